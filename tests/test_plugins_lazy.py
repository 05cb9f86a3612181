"""Plugins imported before opsgym: a plugin module whose top does ``from opsgym import hookimpl`` is imported first.

That import runs ``import opsgym``, which loads plugins while the plugin module is still half-built; it used to be
registered with no hooks — its agents and tasks silently missing and PLUGIN_ERRORS empty. Each case runs in a fresh
interpreter, because plugins load once per process.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.conftest import pip_install_target, run_python

REPORT = """
import json
import gymnasium as gym
from opsgym import plugins
out = {k: sorted(plugins.entries(k)) for k in ("agent", "perturbation", "task")}
out["gym"] = sorted(i for i in gym.registry if i.startswith("opsgym/"))
out["errors"] = plugins.PLUGIN_ERRORS
print(json.dumps(out))
"""

FIRST_PLUGIN = {
    "pyproject.toml": """
        [build-system]
        requires = ["hatchling>=1.25"]
        build-backend = "hatchling.build"

        [project]
        name = "opsgym-first-fixture"
        version = "0.1.0"

        [project.entry-points.opsgym]
        first-good = "opsgym_first.good"
        first-broken = "opsgym_first.broken"
        first-empty = "opsgym_first.empty"

        [tool.hatch.build.targets.wheel]
        packages = ["src/opsgym_first"]
    """,
    "src/opsgym_first/__init__.py": "",
    "src/opsgym_first/good.py": """
        from opsgym import hookimpl

        class Waiter:
            def reset(self, *, seed=None, env=None, ledger=None):
                pass

            def act(self, observation, info):
                return "help"

        @hookimpl
        def register_agents(register):
            register("first-waiter", Waiter)
    """,
    "src/opsgym_first/broken.py": """
        from opsgym import hookimpl

        raise RuntimeError("first-broken cannot start")
    """,
    "src/opsgym_first/empty.py": "import opsgym\n",
}


@pytest.fixture(scope="module")
def first_plugin(tmp_path_factory: pytest.TempPathFactory):
    source = tmp_path_factory.mktemp("first-src")
    for name, text in FIRST_PLUGIN.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(textwrap.dedent(text))
    return pip_install_target(source, tmp_path_factory.mktemp("first"))


def run(prelude: str, path) -> dict:
    proc = run_python(prelude + REPORT, extra_path=path)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_example_plugin_imported_before_opsgym_registers_its_things(example_plugin):
    reg = run("import opsgym_example.plugin\n", example_plugin)
    assert "example-survey" in reg["agent"]
    assert "example-crlf" in reg["perturbation"]
    assert "Example-SWE-1" in reg["task"]
    assert "opsgym/Example-SWE-1" in reg["gym"] and "opsgym/SRE-1" in reg["gym"]
    assert reg["errors"] == []


def test_every_plugin_of_a_package_imported_first_is_registered_or_reported(first_plugin):
    reg = run("import opsgym_first.good\n", first_plugin)
    assert "first-waiter" in reg["agent"] and "oracle" in reg["agent"]
    errors = "\n".join(reg["errors"])
    assert "'first-broken'" in errors and "first-broken cannot start" in errors
    assert "'first-empty'" in errors and "no @hookimpl" in errors
    assert "'first-good'" not in errors


def test_a_failing_plugin_imported_first_is_reported_by_name(first_plugin):
    prelude = "try:\n    import opsgym_first.broken\nexcept RuntimeError:\n    pass\n"
    reg = run(prelude, first_plugin)
    errors = "\n".join(reg["errors"])
    assert "'first-broken'" in errors and "RuntimeError" in errors
    assert "first-waiter" in reg["agent"]


def test_import_opsgym_exports_the_contracts_lazily():
    code = (
        "import opsgym\n"
        "from opsgym import Agent, ClusterBackend, LLMBackend, Perturbation, Scenario, TaskSpec, hookimpl\n"
        "from opsgym.scenario import Scenario as S\n"
        "print(Scenario is S, callable(hookimpl), TaskSpec.__name__, sorted(opsgym.__all__) == opsgym.__all__)\n"
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-4:] == ["True", "True", "TaskSpec", "True"]
    missing = run_python("import opsgym\nopsgym.NotAThing\n")
    assert "has no attribute 'NotAThing'" in missing.stderr
