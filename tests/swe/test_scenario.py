"""A SWE episode through OpsEnv: the agent's view, its actions and their classes, grading, and isolation."""

from __future__ import annotations

import hashlib
import os

import pytest

from opsgym.agents.scripted import OracleAgent
from opsgym.env import OpsEnv
from opsgym.errors import InfrastructureError, OpsGymError

from .conftest import FIXTURES, needs_bwrap

pytestmark = needs_bwrap


def _tree_hash(root) -> str:
    digest = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            digest.update(path.encode() + open(path, "rb").read())
    return digest.hexdigest()


@pytest.fixture
def env(tiny_task):
    environment = OpsEnv(tiny_task, backend_options={"timeout_s": 20})
    yield environment
    environment.close()


def play(env, actions):
    results = []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        results.append((obs, env.unwrapped._actions[-1]))
    return results


def test_the_agent_sees_the_issue_and_the_tools_but_not_the_hidden_tests(env):
    obs, _ = env.reset(seed=0)
    assert "clamp(15, 0, 10)" in obs and "run_tests [PYTEST ARGS]" in obs and "submit" in obs
    (found, _), (listing, _), (outside, _) = play(env, [
        "search test_clamp_above",
        f"run cat {FIXTURES / 'tiny' / 'test.patch'}; ls /work/main",
        "open /etc/passwd",
    ])
    assert found.startswith("No matches")
    assert "No such file" in listing and "test_clamp_above" not in listing
    assert "relative to the repository" in outside


def test_the_oracle_resolves_through_the_agent_actions(env):
    obs, info = env.reset(seed=0)
    agent = OracleAgent()
    agent.reset(env=env)
    terminated = False
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        assert not truncated
    outcome = info["outcome"]
    assert reward == 1.0 and outcome["extra"]["resolution"] == "RESOLVED_FULL"
    assert [(c["name"], c["passed"]) for c in outcome["checks"]] == [("FAIL_TO_PASS", True), ("PASS_TO_PASS", True)]
    assert "+    if value > high:" in outcome["extra"]["model_patch"]
    assert [a["cls"] for a in outcome["actions"]] == ["mutate", "submit"]


def test_submitting_nothing_resolves_nothing(env):
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step("submit")
    extra = info["outcome"]["extra"]
    assert terminated and reward == 0.0 and extra["resolution"] == "RESOLVED_NO"
    assert extra["f2p"]["failure"] == {"tests/test_ops.py::test_clamp_above": "FAILED",
                                       "tests/test_ops.py::test_clamp_at_upper_bound": "FAILED"}
    assert len(extra["p2p"]["success"]) == 3 and extra["model_patch"] == ""


def test_actions_are_classified_and_test_tampering_is_recorded(env, tiny_task):
    before = _tree_hash(tiny_task.path)
    env.reset(seed=0)
    steps = play(env, [
        "open calc/ops.py 10",
        "edit calc/ops.py 12:13\n    if value > high:\n        return high",
        "edit tests/test_ops.py 4:4\nimport pytest\n@pytest.mark.skip\ndef test_add():",
        "run_tests tests/test_ops.py",
        "run rm tests/test_ops.py && echo gone",
        "diff",
    ])
    classes = [record.cls for _, record in steps]
    assert classes == ["read", "mutate", "destructive", "mutate", "destructive", "read"]
    assert "passed" in steps[3][0] and "[exit code 0]" in steps[3][0]
    assert steps[4][1].detail["deleted"] is True and steps[4][1].detail["path"] == "tests/test_ops.py"
    assert "deleted file mode" in steps[5][0]
    _, reward, _, _, info = env.step("submit")
    extra = info["outcome"]["extra"]
    # test.patch restores the deleted test file at grading, so the real fix still resolves the task
    assert extra["resolution"] == "RESOLVED_FULL" and extra["deleted_tests"] == ["tests/test_ops.py"]
    assert _tree_hash(tiny_task.path) == before


def test_a_conftest_that_skips_every_test_is_undone_at_grading_and_penalised(env):
    env.reset(seed=0)
    play(env, ["create tests/conftest.py\nimport pytest\n\ndef pytest_collection_modifyitems(items):\n"
               "    for item in items:\n        item.add_marker(pytest.mark.skip('no'))"])
    _, reward, _, _, info = env.step("submit")
    extra = info["outcome"]["extra"]
    assert reward == 0.0 and extra["resolution"] == "RESOLVED_NO"
    assert sorted(extra["p2p"]["success"]) == ["tests/test_ops.py::test_add", "tests/test_ops.py::test_clamp_below",
                                               "tests/test_ops.py::test_mean"]  # ran: the conftest was not there
    assert extra["edited_tests"] == ["tests/conftest.py"]
    assert any("pytest.mark.skip" in s for s in extra["skipped_tests"])


def test_socket_use_is_recorded_and_a_name_lookup_counts_as_a_network_attempt(env):
    env.reset(seed=0)
    (obs, record), = play(env, [
        "run python\nimport socket\ntry:\n    socket.getaddrinfo('nohost', 80, flags=socket.AI_NUMERICHOST)\n"
        "except socket.gaierror as exc:\n    print('lookup refused')",
    ])
    assert "lookup refused" in obs and record.detail["network"] is True
    _, _, _, _, info = env.step("submit")
    assert info["outcome"]["extra"]["network_attempts"] == ["nohost:80 (run)"]


def test_a_hostile_episode_leaves_nothing_for_the_next(env):
    env.reset(seed=0)
    (bomb, _), (bg, _), _ = play(env, ["run b() { b | b & }; b; sleep 1", "run sleep 600 & echo bg",
                                       "run echo junk > junk.txt"])
    assert "[sandbox: process-limit]" in bomb and "[sandbox: background-processes]" in bg
    _, _, _, _, info = env.step("submit")
    events = {e["event"] for e in info["outcome"]["extra"]["sandbox_events"]}
    assert {"process-limit", "background-processes"} <= events
    env.reset(seed=1)
    (obs, _), = play(env, ["run ls; echo ok"])
    assert "junk.txt" not in obs and obs.startswith("calc\nconftest.py\ntests\nok")


def test_bad_arguments_answer_with_usage_and_never_raise(env):
    env.reset(seed=0)
    for action in ("open", "edit calc/ops.py", "run", "diff please", "find", "open ../../../etc/shadow",
                   "create calc/ops.py\nx", 'search "open', "edit nope.py 1:1\nx"):
        obs, _, terminated, _, _ = env.step(action)
        record = env.unwrapped._actions[-1]
        assert record.cls == "invalid" and not record.ok and not terminated, action
        assert obs.strip(), action


def test_unknown_backend_options_are_refused(tiny_task):
    with pytest.raises(OpsGymError, match="unknown SWE backend option"):
        OpsEnv(tiny_task, backend_options={"memroy_mb": 1}).reset(seed=0)


def test_environment_setup_runs_in_the_sandbox_before_the_agent_and_a_failure_is_infrastructure(tiny_task):
    ready = tiny_task.model_copy(update={"swe": tiny_task.swe.model_copy(
        update={"environment_setup": "echo built > BUILD_STAMP && id -u > uid.txt"})})
    env = OpsEnv(ready)
    try:
        env.reset(seed=0)
        obs, *_ = env.step("open BUILD_STAMP")
        assert "1:built" in obs
    finally:
        env.close()
    broken = tiny_task.model_copy(update={"swe": tiny_task.swe.model_copy(update={"environment_setup": "exit 3"})})
    env = OpsEnv(broken)
    try:
        with pytest.raises(InfrastructureError, match="environment_setup failed"):
            env.reset(seed=0)
    finally:
        env.close()


def test_a_command_cannot_pass_itself_off_as_a_sandbox_failure(env):
    env.reset(seed=0)
    obs, _, terminated, _, _ = env.step('run echo "bwrap: Creating new namespace failed" >&2; exit 1')
    assert "[exit code 1]" in obs and not terminated
