"""Grading cannot be read or forged from the sandbox: no grading file is visible inside it, and per-test outcomes come
from a channel the code under test cannot rewrite, in a graded run that looks exactly like the agent's own."""

from __future__ import annotations

import secrets
import shlex
import shutil

import pytest

from opsgym.env import make_env
from opsgym.swe.sandbox import Sandbox
from opsgym.tasks import catalog_folders, load_task

from .conftest import FIXTURES, needs_bwrap, step

pytestmark = [needs_bwrap, pytest.mark.timeout(300)]

F2P = ["tests/test_ops.py::test_clamp_above", "tests/test_ops.py::test_clamp_at_upper_bound"]
P2P = ["tests/test_ops.py::test_add", "tests/test_ops.py::test_clamp_below", "tests/test_ops.py::test_mean"]
_SUMMARY = ("    print('=' * 10 + ' short test summary info ' + '=' * 10, flush=True)\n"
            + "".join(f"    print('PASSED {node}', flush=True)\n" for node in F2P + P2P))

REPORTING_ATTACKS = {
    "patched-TestReport.from_item_and_call": (
        "import _pytest.reports as _r\n_orig = _r.TestReport.from_item_and_call.__func__\n"
        "def _fake(cls, item, call):\n    rep = _orig(cls, item, call)\n"
        "    rep.outcome, rep.longrepr = 'passed', None\n    return rep\n"
        "_r.TestReport.from_item_and_call = classmethod(_fake)\n"),
    "makereport-hook-plugin-registered-by-the-package": (
        "import gc, pluggy, pytest\nclass _P:\n    @pytest.hookimpl(hookwrapper=True)\n"
        "    def pytest_runtest_makereport(self, item, call):\n        rep = (yield).get_result()\n"
        "        rep.outcome, rep.longrepr = 'passed', None\n"
        "for _o in gc.get_objects():\n    if isinstance(_o, pluggy.PluginManager):\n        _o.register(_P())\n"
        "        break\n"),
    "atexit-second-summary": "import atexit\ndef _s():\n" + _SUMMARY + "atexit.register(_s)\n",
    "fake-summary-to-every-pipe-then-os._exit(0)-at-import": (
        "import os, stat\ndef _s():\n" + _SUMMARY.replace("flush=True)", "flush=True, file=_f)")
        + "for _fd in range(3, 64):\n"
        "    try:\n        if stat.S_ISFIFO(os.fstat(_fd).st_mode):\n"
        "            with open(os.dup(_fd), 'w') as _f:\n                _s()\n"
        "    except OSError:\n        pass\nos._exit(0)\n"),
    "sys.exit-monkeypatched": (
        "import sys\n_real = sys.exit\ndef _exit(code=0):\n" + _SUMMARY + "    _real(0)\nsys.exit = _exit\n"),
    "graded-run-detected-by-argv-or-env": (
        "import os, sys, atexit\nif '--tb=no' in sys.argv or 'grading' in os.getcwd() or len(sys.argv) > 20:\n"
        "    def _s():\n" + _SUMMARY.replace("    ", "        ") + "    atexit.register(_s)\n"),
}
STATIC_ONLY = {  # swallows the runner's lines and forges a whole channel: only the static check of the patch sees it
    "channel-swallowed-with-dup2-and-forged-at-exit": (
        "import atexit, json, os\n_real = os.dup(3)\nos.dup2(os.open(os.devnull, os.O_WRONLY), 3)\n"
        f"_ids = {F2P + P2P!r}\n"
        "def _forge():\n    lines = [{'t': 'collected', 'ids': _ids}] + [{'t': 'result', 'id': i, 'when': 'call', "
        "'status': 'PASSED'} for i in _ids] + [{'t': 'end', 'exit': 0, 'tampered': []}]\n"
        "    os.write(_real, ''.join(json.dumps({'n': n, **x}) + '\\n' for n, x in enumerate(lines, 1)).encode())\n"
        "    os._exit(0)\natexit.register(_forge)\n"),
}


@pytest.mark.parametrize("attack", sorted(REPORTING_ATTACKS) + sorted(STATIC_ONLY))
def test_code_under_test_cannot_report_its_own_tests_as_passed(env, attack):
    code = {**REPORTING_ATTACKS, **STATIC_ONLY}[attack]
    obs, *_ = step(env, f"run python\nopen('calc/__init__.py', 'a').write({code!r})\nprint('planted')")
    assert "planted" in obs
    _, reward, terminated, info, _ = step(env, "submit")
    extra = info["outcome"]["extra"]
    assert terminated and extra["resolution"] == "RESOLVED_NO", attack
    assert sorted(extra["f2p"]["failure"]) == F2P and reward < 0.5
    assert extra["test_tampering"], attack
    assert "edit-tests" in {p["rule"] for p in info["metrics"]["penalties"]}


@pytest.mark.parametrize("attack", sorted(REPORTING_ATTACKS))
def test_the_outcome_channel_alone_reports_the_real_outcomes(tiny_task, tmp_path, attack):
    """Without the static check of the patch, the channel still never shows a failing test as passed."""
    from opsgym.swe.catalog import base_tree
    from opsgym.swe.grading_tree import reset_test_patch
    from opsgym.swe.report_channel import read_report
    from opsgym.swe.scenario import PYTEST_ARGS
    from opsgym.swe.workspace import Workspace

    box = Sandbox("bwrap")
    ws = Workspace(base_tree(tiny_task), owner=box.owner)
    try:
        reset_test_patch(ws.base, ws.path, tiny_task.swe.patch_text(tiny_task.path, "test_patch"))
        with open(ws.path / "calc" / "__init__.py", "a") as fh:
            fh.write(REPORTING_ATTACKS[attack])
        run = box.run([box.python, *PYTEST_ARGS, "tests/test_ops.py"], workdir=ws.path, report=True, timeout_s=120)
        report = read_report(run.report)
    finally:
        ws.close()
        box.close()
    assert all(report.outcomes.get(node) != "PASSED" for node in F2P), (attack, report)
    if attack in ("atexit-second-summary", "sys.exit-monkeypatched", "graded-run-detected-by-argv-or-env"):
        assert report.outcomes == {**dict.fromkeys(F2P, "FAILED"), **dict.fromkeys(P2P, "PASSED")}


def test_the_graded_run_is_the_agents_run_tests_command(env, monkeypatch):
    calls = []
    box = env.unwrapped._scenario.sandbox
    real = box.run

    def spy(argv, **kwargs):
        calls.append((list(argv), box._env(kwargs["workdir"]), kwargs.get("report", False)))
        return real(argv, **kwargs)

    monkeypatch.setattr(box, "run", spy)
    step(env, "run_tests tests/test_ops.py")
    step(env, "submit")
    (agent_argv, agent_env, agent_report), (graded_argv, graded_env, graded_report) = calls
    assert graded_argv == agent_argv and graded_env == agent_env and graded_report == agent_report


def _planted_task(tmp_path, canary):
    folder = tmp_path / "task"
    shutil.copytree(FIXTURES / "tiny", folder)
    for name in ("task.yaml", "gold.patch", "test.patch"):
        text = (folder / name).read_text()
        (folder / name).write_text(f"# {canary}\n{text}" if name == "task.yaml" else f"{canary}\n{text}")
    return load_task(folder)


def test_no_grading_file_of_any_task_is_visible_inside_the_sandbox(tmp_path):
    canary = f"opsgym-canary-{secrets.token_hex(8)}"
    catalog = [load_task(f) for f in catalog_folders() if f.name.startswith("swe-")]
    needles = [canary, *(t.swe.instance_id for t in catalog), *(t.title for t in catalog)]
    environment = make_env(_planted_task(tmp_path, canary), backend_options={"timeout_s": 240})
    environment.reset(seed=0)
    try:
        patterns = " ".join(f"-e {shlex.quote(n)}" for n in needles)
        obs, *_ = step(environment, f"run grep -rlIF --devices=skip {patterns} / --exclude-dir=proc "
                                    "--exclude-dir=sys --exclude-dir=dev 2>/dev/null; echo searched")
        found, *_ = step(environment, "run find / \\( -name gold.patch -o -name test.patch -o -name task.yaml "
                                      "-o -path '*-packages/opsgym*' \\) -not -path '/proc/*' 2>/dev/null; echo found")
        imports, *_ = step(environment, "run python -c 'import opsgym' 2>&1 | tail -1; python -c 'import pytest'"
                                        " && echo pytest-ok")
    finally:
        environment.close()
    assert obs.splitlines()[0] == "searched", obs
    assert found.splitlines()[0] == "found", found
    assert "No module named 'opsgym'" in imports and "pytest-ok" in imports


def test_a_file_rewritten_with_its_old_mtime_is_still_in_the_diff_and_checked(env):
    code = ("import os\np = 'calc/__init__.py'\nst = os.stat(p)\n"
            "open(p, 'a').write('import atexit\\n')\nos.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))\n")
    step(env, f"run python\n{code}")
    diff, *_ = step(env, "diff")
    _, _, _, info, _ = step(env, "submit")
    assert "+import atexit" in diff
    assert any("calc/__init__.py" in t for t in info["outcome"]["extra"]["test_tampering"])
