"""Rules about what may run concurrently hold where runs are planned: the Python API and ``opsgym run`` refuse the
same things with the same message, before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgym import plugins
from opsgym.errors import RunConfigError
from opsgym.runner import AgentSpec, RunPlan, execute
from opsgym.runner.plan import check_execution
from tests.conftest import run_python

HUMAN = "the human agent reads this terminal: run it with --parallel 1"
SHARED = "--backend kind runs every episode on one real cluster"


def plan(**fields) -> RunPlan:
    return RunPlan(**{"envs": ["opsgym/SRE-1"], "seeds": [0], "agents": [AgentSpec(name="oracle")]} | fields)


@pytest.mark.parametrize(("fields", "executor", "parallel", "message"), [
    ({"agents": [AgentSpec(name="human")]}, "process", 2, HUMAN),
    ({"agents": [AgentSpec(name="human")]}, "ray", None, HUMAN),
    ({"env_kwargs": {"backend": "kind"}}, "process", 2, SHARED),
    ({"env_kwargs": {"backend": "kind"}}, "ray", None, SHARED),
])
def test_the_python_api_refuses_what_cannot_run_in_parallel_before_writing(tmp_path: Path, fields, executor,
                                                                            parallel, message):
    with pytest.raises(RunConfigError) as err:
        execute(plan(**fields), tmp_path / "run", executor=executor, parallel=parallel)
    assert message in str(err.value)
    assert not (tmp_path / "run").exists()


def test_one_at_a_time_is_allowed_and_the_simulator_may_run_in_parallel():
    check_execution(plan(agents=[AgentSpec(name="human")]), "process", 1)
    check_execution(plan(env_kwargs={"backend": "kind"}), "process", 1)
    check_execution(plan(env_kwargs={"backend": "sim"}), "process", 4)


def test_a_plugin_cluster_backend_marked_shared_is_refused_too(monkeypatch):
    def factory(**options):
        raise AssertionError("checking must not build the backend")

    factory.shared_cluster = True  # type: ignore[attr-defined]
    plugins.load_plugins()
    monkeypatch.setitem(plugins._REGISTRIES["cluster backend"], "lab",
                        plugins.Entry("cluster backend", "lab", factory, "tests", "tests"))
    with pytest.raises(RunConfigError, match="--backend lab runs every episode on one real cluster"):
        check_execution(plan(env_kwargs={"backend": "lab"}), "process", 3)


@pytest.mark.parametrize(("args", "message"), [
    (["--agent", "human", "--parallel", "2"], HUMAN),
    (["--backend", "kind", "--parallel", "2"], SHARED),
])
def test_opsgym_run_gives_the_same_error(tmp_path: Path, args, message):
    out = str(tmp_path / "r")
    code = f"from opsgym.cli import app\napp(['run', '--env', 'opsgym/SRE-1', '--out', {out!r}, *{args!r}])"
    proc = run_python(code, env={"COLUMNS": "300"})
    assert proc.returncode == 2
    assert message in " ".join(proc.stderr.split())
    assert not (tmp_path / "r").exists()
