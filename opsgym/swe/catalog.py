"""Where a SWE task's repository comes from, the oracle's actions, and importing SWE-bench instance files.

A shipped task's base tree is the ``repo/`` folder of its task folder. An imported instance's base tree is its
``base_commit`` exported once from the user's local clone (``git archive``, no network) into a cache beside the
workspaces, so every episode after the first starts from a plain copy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opsgym.errors import TaskSpecError
from opsgym.swe.patches import oracle_actions
from opsgym.swe.spec import SWESpec
from opsgym.swe.workspace import remove_tree, workspace_root

__all__ = ["base_tree", "fill_oracle_solution", "load_instances", "oracle_solution"]

_FIELDS = set(SWESpec.model_fields)


def _git(repo_dir: str, *args: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", repo_dir, *args], stdout=stdout, stderr=subprocess.PIPE, timeout=600,
                          check=False)


def _checkout(repo_dir: str, commit: str) -> Path:
    """The tree of ``commit`` in ``repo_dir``, exported once into the cache and reused."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(repo_dir).name)
    dest = workspace_root() / "bases" / f"{name}-{commit}"
    if dest.is_dir():
        return dest
    tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}")
    remove_tree(tmp)
    tmp.mkdir(parents=True)
    archive = tmp.with_suffix(".tar")
    with open(archive, "wb") as fh:
        proc = _git(repo_dir, "archive", "--format=tar", commit, stdout=fh)
    if proc.returncode != 0:
        archive.unlink(missing_ok=True)
        remove_tree(tmp)
        raise TaskSpecError(f"cannot export {commit} from {repo_dir}: {proc.stderr.decode(errors='replace').strip()}"
                            " (is the commit in your local clone? `git fetch` it there)")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    archive.unlink()
    try:
        os.rename(tmp, dest)
    except OSError:  # another process exported it first
        remove_tree(tmp)
    return dest


def base_tree(task: Any) -> Path:
    """The pristine repository tree of a SWE task (never written to)."""
    swe: SWESpec = task.swe
    if swe.base_commit:
        return _checkout(swe.repo_dir, swe.base_commit)
    if task.path is None:
        raise TaskSpecError(f"task {task.id}: swe.base_commit is empty and the task has no folder holding swe.repo")
    path = (Path(task.path) / swe.repo).resolve()
    if not path.is_dir():
        raise TaskSpecError(f"{task.path}/task.yaml: swe.repo: no folder {swe.repo!r} in the task folder")
    return path


def oracle_solution(task: Any) -> list[str]:
    """The gold patch as agent actions (``edit``/``create`` … ``submit``), derived from the base tree.

    Raises:
        TaskSpecError: the gold patch is missing, does not parse, or does not apply to the base tree.
    """
    swe: SWESpec = task.swe
    if swe.base_commit:
        def read(rel: str) -> str | None:
            proc = _git(swe.repo_dir, "show", f"{swe.base_commit}:{rel}")
            return proc.stdout.decode("utf-8", errors="surrogateescape") if proc.returncode == 0 else None
    else:
        base = base_tree(task)

        def read(rel: str) -> str | None:
            path = base / rel
            return path.read_text(encoding="utf-8", errors="surrogateescape") if path.is_file() else None
    return oracle_actions(swe.patch_text(task.path, "patch"), read)


def fill_oracle_solution(task: Any) -> None:
    """Give a SWE task whose ``solution`` is empty the gold patch as actions (a broken patch leaves it empty, and
    the catalog test reports why; loading the rest of the catalog must not fail because of one task).

    The SWE domain's ``prepare`` hook (:mod:`opsgym.swe.domain`): the task loader calls it for every SWE task."""
    if not task.solution:
        try:
            task.solution = oracle_solution(task)
        except (TaskSpecError, OSError, UnicodeDecodeError):
            task.solution = []


def _find_clone(repo_cache: Path, repo: str) -> str:
    owner, _, name = repo.partition("/")
    tried = [repo_cache / f"{owner}__{name}", repo_cache / owner / name, repo_cache / (name or owner)]
    for path in tried:
        if (path / ".git").exists() or (path / "HEAD").is_file():
            return str(path.resolve())
    listing = ", ".join(str(p) for p in tried)
    raise TaskSpecError(f"no local clone of {repo!r} in the repo cache (looked for {listing}); clone it there, e.g. "
                        f"`git clone https://github.com/{repo} {tried[0]}`")


def _read_records(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise TaskSpecError(f"{path}: neither JSON nor JSON Lines ({exc.msg}, line {exc.lineno})") from None
    records = data if isinstance(data, list) else [data]
    if not all(isinstance(r, dict) for r in records):
        raise TaskSpecError(f"{path}: expected SWE-bench instances (JSON objects)")
    return records


def load_instances(path: str | Path, repo_cache: str | Path, *, suite: str = "SWE-bench",
                   max_steps: int = 50) -> list[Any]:
    """SWE-bench-style instances from a JSON/JSONL file as :class:`~opsgym.tasks.TaskSpec` objects for ``OpsEnv``.

    Args:
        path: a ``.json`` (one instance or a list) or ``.jsonl`` file with SWE-bench's instance fields.
        repo_cache: a folder with a git clone per repository, named ``owner__name`` (as SWE-bench names them),
            ``owner/name`` or ``name``; every ``base_commit`` must be in its clone (no network is used).
        suite: the suite name every instance gets (``OpsEnv(task=...)`` takes one spec; a suite needs registering).
        max_steps: the step budget of each task.

    Raises:
        TaskSpecError: a record lacks a field, names a repository that is not in the cache, or a missing commit.
    """
    from opsgym.tasks import GroundTruth, TaskSpec

    path, repo_cache = Path(path), Path(repo_cache)
    specs = []
    for n, record in enumerate(_read_records(path), 1):
        fields = {k: v for k, v in record.items() if k in _FIELDS}
        where = f"{path}: instance {n} ({record.get('instance_id', '?')})"
        if "repo" not in fields or "base_commit" not in fields:
            raise TaskSpecError(f"{where}: needs 'repo' and 'base_commit'")
        fields["repo_dir"] = _find_clone(repo_cache, str(fields["repo"]))
        if _git(fields["repo_dir"], "cat-file", "-e", f"{fields['base_commit']}^{{commit}}").returncode != 0:
            raise TaskSpecError(f"{where}: commit {fields['base_commit']} is not in {fields['repo_dir']}; fetch it")
        try:
            swe = SWESpec.model_validate(fields)
        except ValidationError as exc:
            raise TaskSpecError(f"{where}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
        task_id = re.sub(r"[^A-Za-z0-9_.-]", "-", swe.instance_id)
        title = (swe.problem_statement.strip().splitlines() or [swe.instance_id])[0].lstrip("# ")[:120]
        spec = TaskSpec.model_validate({
            "id": task_id if task_id[:1].isalpha() else f"SWE-{task_id}", "domain": "swe", "title": title,
            "profile": "swe", "max_steps": max_steps, "suites": [suite],
            "hints": [swe.hints_text] if swe.hints_text else [],
            "ground_truth": GroundTruth(remediation="apply a fix that makes FAIL_TO_PASS pass"), "swe": swe})
        fill_oracle_solution(spec)
        specs.append(spec)
    return specs
