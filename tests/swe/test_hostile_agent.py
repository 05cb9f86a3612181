"""What a hostile agent may do to its workspace stays its own problem: grading never touches the host through it,
cannot be talked into a pass, and no step blocks or raises, whatever the tree holds."""

from __future__ import annotations

import pytest

from .conftest import needs_bwrap, step

pytestmark = [needs_bwrap, pytest.mark.timeout(240)]  # a step that blocks fails here instead of hanging the run

F2P = ["tests/test_ops.py::test_clamp_above", "tests/test_ops.py::test_clamp_at_upper_bound"]
P2P = ["tests/test_ops.py::test_add", "tests/test_ops.py::test_clamp_below", "tests/test_ops.py::test_mean"]


def test_grading_never_writes_through_a_symlink_the_agent_put_in_place_of_the_tests(env, tmp_path):
    victim = tmp_path / "host-folder"
    victim.mkdir()
    (victim / "test_ops.py").write_text("HOST FILE\n")
    (victim / "keep.txt").write_text("HOST FILE\n")
    obs, *_ = step(env, f"run rm -rf tests && ln -s {victim} tests && echo linked")
    assert "linked" in obs
    _, reward, terminated, info, _ = step(env, "submit")
    assert terminated and info["outcome"]["extra"]["resolution"] == "RESOLVED_NO"
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt", "test_ops.py"]
    assert (victim / "test_ops.py").read_text() == "HOST FILE\n" and (victim / "keep.txt").read_text() == "HOST FILE\n"


@pytest.mark.parametrize("module", ["pytest.py", "pytest/__init__.py"])
def test_a_pytest_module_in_the_tree_cannot_stand_in_for_pytest_at_grading(env, module):
    fake = "import sys\nprint('=' * 10 + ' short test summary info ' + '=' * 10)\n" + "".join(
        f"print('PASSED {node}')\n" for node in F2P + P2P) + "sys.exit(0)\n"
    step(env, f"create {module}\n{fake}")
    _, reward, _, info, _ = step(env, "submit")
    extra = info["outcome"]["extra"]
    assert extra["resolution"] == "RESOLVED_NO" and reward < 0.5
    assert sorted(extra["f2p"]["failure"]) == F2P and sorted(extra["p2p"]["success"]) == P2P  # the real pytest ran


def test_a_conftest_added_by_a_command_cannot_turn_failures_into_passes_and_counts_as_a_test_edit(env):
    hook = ("import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
            "    report = (yield).get_result()\n    report.outcome = 'passed'\n    report.longrepr = None\n")
    step(env, f"run python\nopen('tests/conftest.py', 'w').write({hook!r})\nopen('pytest.ini', 'w').write("
              f"'[pytest]\\naddopts = -p no:python\\n')")
    _, _, _, info, _ = step(env, "submit")
    extra = info["outcome"]["extra"]
    assert extra["resolution"] == "RESOLVED_NO" and sorted(extra["f2p"]["failure"]) == F2P
    assert sorted(extra["p2p"]["success"]) == P2P  # collected and run: the added pytest.ini was not in force either
    assert extra["edited_tests"] == ["pytest.ini", "tests/conftest.py"]
    assert "edit-tests" in {p["rule"] for p in info["metrics"]["penalties"]}


def test_the_gold_fix_still_resolves_with_a_harmless_pyproject_edit(env, tiny_task):
    fix = "edit calc/ops.py\n<<<<<<< SEARCH\n        return high - 1\n=======\n        return high\n>>>>>>> REPLACE"
    obs, *_ = step(env, fix)
    assert obs.startswith("Edited"), obs
    step(env, "create pyproject.toml\n[project]\nname = 'calc'\n")
    _, _, _, info, _ = step(env, "submit")
    extra = info["outcome"]["extra"]
    assert extra["resolution"] == "RESOLVED_FULL" and extra["edited_tests"] == []


@pytest.mark.parametrize("then", ["open calc/pipe", "search clamp", "find pipe", "diff", "submit"])
def test_a_fifo_in_the_tree_never_blocks_or_breaks_a_step(env, then):
    obs, *_ = step(env, "run mkfifo calc/pipe && ls -l calc/pipe")
    assert obs.startswith("p")
    obs, _, terminated, _, record = step(env, then)
    if then == "open calc/pipe":
        assert record.cls == "invalid" and "not a regular file" in obs
    elif then == "search clamp":
        assert "calc/ops.py" in obs
    elif then == "find pipe":
        assert obs.startswith("No files match")
    elif then == "diff":
        assert obs == "No changes yet."
    else:
        assert terminated and record.cls == "submit"


def test_chmod_000_on_the_workspace_is_the_agents_doing_not_an_infrastructure_failure(env):
    step(env, "run chmod 000 /workspace")
    obs, _, _, _, record = step(env, "run ls")
    assert record.cls == "mutate" and obs.startswith("calc\nconftest.py\ntests\n"), obs
    obs, *_ = step(env, "run_tests")
    assert "3 passed" in obs
    _, _, terminated, info, _ = step(env, "submit")
    assert terminated and sorted(info["outcome"]["extra"]["p2p"]["success"]) == P2P


def test_a_tree_nested_thousands_deep_is_listed_graded_and_removed(env):
    obs, *_ = step(env, "run python\nimport os\nfor _ in range(2500):\n    os.mkdir('d')\n    os.chdir('d')\n"
                        "print('deep')")
    assert "deep" in obs
    obs, *_ = step(env, "find nothing-here")
    assert obs.startswith("No files match")
    _, _, terminated, _, _ = step(env, "submit")
    workspace = env.unwrapped._scenario.workspace
    env.close()
    assert terminated and workspace.closed and not workspace.dir.exists()


def test_a_host_side_file_error_is_the_agents_invalid_action_not_an_internal_error(env):
    obs, _, terminated, _, record = step(env, f"create {'a' * 300}.py\nx = 1")
    assert record.cls == "invalid" and not terminated
    assert obs.startswith("create: File name too long") and not record.error.startswith("internal")
