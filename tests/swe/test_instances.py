"""SWE-bench-style instance files with a local repo cache become tasks that OpsEnv runs and grades."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from opsgym.agents.scripted import OracleAgent
from opsgym.env import OpsEnv
from opsgym.errors import TaskSpecError
from opsgym.swe import load_instances
from opsgym.swe.spec import SWESpec

from .conftest import FIXTURES, needs_bwrap

TINY = FIXTURES / "tiny"


def _git(cwd, *args):
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def cache(tmp_path):
    """A repo cache holding ``acme__calc`` with the fixture's base as a commit, and a later commit on top."""
    clone = tmp_path / "cache" / "acme__calc"
    shutil.copytree(TINY / "repo", clone)
    _git(clone, "init", "-q")
    _git(clone, "add", "-A")
    _git(clone, "commit", "-qm", "base")
    base = _git(clone, "rev-parse", "HEAD").strip()
    (clone / "calc" / "ops.py").write_text("# later history the episode must not see\n")
    _git(clone, "commit", "-qam", "later")
    return tmp_path / "cache", base


def _instance(base: str, **changes) -> dict:
    record = {
        "repo": "acme/calc", "instance_id": "acme__calc-1", "base_commit": base,
        "patch": (TINY / "gold.patch").read_text(), "test_patch": (TINY / "test.patch").read_text(),
        "problem_statement": "clamp(15, 0, 10) returns 9\n\nIt should return 10.", "hints_text": "",
        "created_at": "2024-01-01T00:00:00Z", "version": "0.1", "environment_setup_commit": base,
        "FAIL_TO_PASS": json.dumps(["tests/test_ops.py::test_clamp_above",
                                    "tests/test_ops.py::test_clamp_at_upper_bound"]),
        "PASS_TO_PASS": json.dumps(["tests/test_ops.py::test_add", "tests/test_ops.py::test_mean"]),
        "extra_field_from_a_newer_dataset": 1,
    }
    return record | changes


def test_json_strings_for_test_lists_are_accepted():
    spec = SWESpec(instance_id="x", problem_statement="p", FAIL_TO_PASS='["a::b"]', PASS_TO_PASS="[]")
    assert spec.FAIL_TO_PASS == ["a::b"] and spec.tests == ["a::b"]


def test_jsonl_instances_load_as_task_specs(cache, tmp_path):
    repo_cache, base = cache
    path = tmp_path / "lite.jsonl"
    path.write_text(json.dumps(_instance(base)) + "\n" + json.dumps(_instance(base, instance_id="acme__calc-2")) + "\n")
    specs = load_instances(path, repo_cache=repo_cache)
    assert [s.id for s in specs] == ["acme__calc-1", "acme__calc-2"]
    spec = specs[0]
    assert spec.title == "clamp(15, 0, 10) returns 9" and spec.suites == ["SWE-bench"] and spec.domain == "swe"
    assert spec.swe.repo_dir == str((repo_cache / "acme__calc").resolve())
    assert spec.solution[0].startswith("edit calc/ops.py\n<<<<<<< SEARCH") and spec.solution[-1] == "submit"


@needs_bwrap
def test_an_imported_instance_runs_from_its_base_commit_and_the_oracle_resolves_it(cache, tmp_path):
    repo_cache, base = cache
    path = tmp_path / "one.json"
    path.write_text(json.dumps(_instance(base)))
    (spec,) = load_instances(path, repo_cache=repo_cache)
    env = OpsEnv(spec)
    try:
        obs, info = env.reset(seed=0)
        assert "clamp(15, 0, 10) returns 9" in obs
        first, *_ = env.step("open calc/ops.py")
        assert "later history" not in first and "def clamp" in first
        agent = OracleAgent()
        agent.reset(env=env)
        terminated = False
        while not terminated:
            obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
    finally:
        env.close()
    assert reward == 1.0 and info["outcome"]["extra"]["resolution"] == "RESOLVED_FULL"


def test_a_repository_missing_from_the_cache_says_how_to_clone_it(cache, tmp_path):
    repo_cache, base = cache
    path = tmp_path / "x.json"
    path.write_text(json.dumps(_instance(base, repo="other/thing")))
    with pytest.raises(TaskSpecError, match=r"git clone https://github\.com/other/thing"):
        load_instances(path, repo_cache=repo_cache)


def test_a_commit_missing_from_the_clone_is_reported(cache, tmp_path):
    repo_cache, _ = cache
    path = tmp_path / "x.json"
    path.write_text(json.dumps(_instance("0" * 40)))
    with pytest.raises(TaskSpecError, match="is not in"):
        load_instances(path, repo_cache=repo_cache)
