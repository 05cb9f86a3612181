"""The end of a SWE episode: what changed in the tree, and the SWE-bench verdict on the final state.

Grading works on a copy of the final tree so the agent's workspace is left as it was: the copy gets the base's pytest
configuration and test files, then ``test.patch`` (:mod:`opsgym.swe.grading_tree`), then the files holding the
FAIL_TO_PASS and PASS_TO_PASS tests are run in the sandbox and :mod:`opsgym.swe.grading` turns the report into the
resolution. Changed pytest configuration (an added ``conftest.py``, say) counts as an edit of the tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsgym.errors import InfrastructureError
from opsgym.scenario import Evaluation
from opsgym.swe.grading import parse_pytest_report, pytest_files, resolve
from opsgym.swe.grading_tree import PYTEST, reset_pytest_config, reset_test_patch
from opsgym.swe.patches import unified_diff
from opsgym.swe.sandbox import Sandbox, network_events
from opsgym.swe.tools import SKIP_MARK, is_test_path
from opsgym.swe.workspace import Workspace, iter_files, parents_are_real

__all__ = ["GRADING_ARGS", "TreeChanges", "grade", "test_snapshot", "tree_changes"]

GRADING_ARGS = (*PYTEST, "-rA", "-v", "--tb=no", "-p", "no:cacheprovider",
                "-o", "console_output_style=classic")
_PATCH_LIMIT = 200_000


def _read(path: Path) -> str | None:
    if path.is_symlink():
        return f"(symlink to {os.readlink(path)})\n"
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
    except OSError:
        return False


@dataclass
class TreeChanges:
    """Files added, deleted and modified relative to the base tree, and the patch that says so."""

    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    patch: str = ""
    binary: list[str] = field(default_factory=list)

    @property
    def skip_markers(self) -> list[str]:
        """``path: line`` for every added line that skips or xfails a test."""
        found, path = [], ""
        for line in self.patch.splitlines():
            if line.startswith("+++ "):
                path = line[6:] if line.startswith("+++ b/") else line[4:]
            elif line.startswith("+") and SKIP_MARK.search(line):
                found.append(f"{path}: {line[1:].strip()[:120]}")
        return found


def tree_changes(base: Path, root: Path) -> TreeChanges:
    """Compare the workspace with the base tree (tool residue such as ``__pycache__`` is ignored)."""
    before, after = set(iter_files(base)), set(iter_files(root))
    changes = TreeChanges(added=sorted(after - before), deleted=sorted(before - after))
    triples: list[tuple[str, str | None, str | None]] = []
    for rel in sorted(before | after):
        a = base / rel if rel in before else None
        b = root / rel if rel in after else None
        if a is not None and b is not None and not a.is_symlink() and not b.is_symlink():
            if _same(a, b):
                continue
            changes.modified.append(rel)
        old, new = (_read(a) if a else None), (_read(b) if b else None)
        if (a and old is None) or (b and new is None):
            changes.binary.append(rel)
            continue
        triples.append((rel, old, new))
    changes.patch = unified_diff(triples)
    return changes


def test_snapshot(root: Path, paths: set[str]) -> dict[str, tuple[int, int]]:
    """Size and mtime of the given (test) files that still exist, to notice a command deleting or changing them.

    A file behind a symlinked folder is not in the tree, so it counts as gone (and nothing outside is looked at).
    """
    snap = {}
    for rel in paths:
        if not parents_are_real(root, rel):
            continue
        try:
            st = os.lstat(root / rel)
        except OSError:
            continue
        snap[rel] = (st.st_size, st.st_mtime_ns)
    return snap


def grade(task: Any, base: Path, workspace: Workspace, sandbox: Sandbox, events: list[dict[str, Any]], *,
          timeout_s: float) -> Evaluation:
    """SWE-bench's verdict on the workspace's final state, plus the facts the Usefulness rules read."""
    spec = task.swe
    changes = tree_changes(base, workspace.path)
    tree = workspace.copy_from(workspace.path, workspace.scratch("grading"))
    config_reset = reset_pytest_config(base, tree)
    problem = reset_test_patch(base, tree, spec.patch_text(task.path, "test_patch"))
    grading_events: list[dict[str, Any]] = []
    if problem:
        grading_events.append({"event": "test-patch-failed", "detail": problem[:500]})
    files = [f for f in pytest_files(spec.tests) if parents_are_real(tree, f) and os.path.lexists(tree / f)]
    output = ""
    if files:
        run = sandbox.run([sandbox.python, *GRADING_ARGS, *files], workdir=tree, timeout_s=timeout_s)
        if not run.started and not run.timed_out:
            raise InfrastructureError(f"the sandbox failed to start for grading: {run.stderr.strip()[:300]}")
        grading_events += [{**e, "action": "grading"} for e in run.events]
        output = run.output
    outcomes = parse_pytest_report(output, spec.tests)
    verdict = resolve(spec.FAIL_TO_PASS, spec.PASS_TO_PASS, outcomes)
    base_tests = {rel for rel in iter_files(base) if is_test_path(rel)}
    skipped = [f"{t} (skipped at grading)" for t, s in {**verdict.f2p.failed, **verdict.p2p.failed}.items()
               if s == "SKIPPED"]
    all_events = [*events, *grading_events]
    deleted_tests = sorted(set(changes.deleted) & base_tests)
    extra = {
        "resolution": verdict.status, "resolved": verdict.resolved,
        "f2p": verdict.f2p.to_dict(), "p2p": verdict.p2p.to_dict(),
        "model_patch": changes.patch[:_PATCH_LIMIT], "files_changed": sorted(changes.added + changes.deleted
                                                                           + changes.modified),
        "edited_tests": sorted((set(changes.modified) & base_tests) | (set(config_reset) - set(deleted_tests))),
        "deleted_tests": deleted_tests,
        "skipped_tests": changes.skip_markers + skipped,
        "network_attempts": [f"{e.get('host', e.get('detail', ''))}:{e.get('port', '')} ({e.get('action', '')})"
                             for e in network_events(all_events)],
        "sandbox_events": all_events[:200],
        "test_output_tail": output[-4000:],
    }
    return Evaluation(checks=verdict.checks(), remediation_correct=verdict.remediation_correct, extra=extra)
