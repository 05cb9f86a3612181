"""The plugin registry: built-ins through the same hooks, real entry-point plugins, failures reported by name."""

from __future__ import annotations

import json

import pytest

from opsgym import plugins
from opsgym.errors import UnknownNameError
from tests.conftest import run_python

LIST_REGISTRY = """
import json, opsgym
from opsgym import plugins
out = {k: {n: [e.plugin, e.package] for n, e in plugins.entries(k).items()}
       for k in ("agent", "perturbation", "task", "llm backend", "cluster backend")}
out["errors"] = plugins.PLUGIN_ERRORS
print(json.dumps(out))
"""


def registry_in_subprocess(path, env=None):
    proc = run_python(LIST_REGISTRY, extra_path=path, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_builtins_register_through_the_same_hooks():
    agents = plugins.entries("agent")
    assert {"oracle", "random", "human"} <= set(agents)
    assert agents["oracle"].plugin == "opsgym.agents.builtin"
    assert agents["oracle"].package == "opsgym"
    assert "sim" in plugins.entries("cluster backend")


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError) as err:
        plugins.get("agent", "orcale")
    assert "'oracle'" in str(err.value)
    assert err.value.suggestions == ["oracle"]


def test_installed_example_plugin_adds_agent_perturbation_and_task(example_plugin):
    reg = registry_in_subprocess(example_plugin)
    assert reg["agent"]["example-survey"] == ["example", "opsgym-example"]
    assert reg["perturbation"]["example-crlf"] == ["example", "opsgym-example"]
    assert reg["task"]["Example-SWE-1"] == ["example", "opsgym-example"]
    assert reg["task"]["Example-SRE-1"] == ["example", "opsgym-example"]
    assert reg["errors"] == []


def test_a_plugin_sre_task_from_the_fault_library_passes_task_check(example_plugin):
    """The plugin reaches opsgym's fault type and app by name; its grader holds (oracle passes, no probe does)."""
    proc = run_python("from opsgym.cli import app; app(['task', 'check', 'Example-SRE-1', '--seeds', '1'])",
                      extra_path=example_plugin, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Example-SRE-1: every check holds over seeds [0]" in proc.stdout


def test_opsgym_list_shows_plugin_things_and_their_package(example_plugin):
    proc = run_python("from opsgym.cli import app; app(['list'])", extra_path=example_plugin,
                      env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    for needle in ("example-survey", "example-crlf", "opsgym/Example-SWE-1", "opsgym-example"):
        assert needle in proc.stdout


PLUGIN_FIRST = "import opsgym_example.plugin\nfrom opsgym import plugins\nplugins.load_plugins()\n"


@pytest.mark.parametrize("prelude", ["", PLUGIN_FIRST], ids=["opsgym-first", "plugin-imported-first"])
def test_gym_make_finds_the_plugin_task(example_plugin, prelude):
    code = prelude + (
        "import gymnasium as gym, opsgym\n"
        "env = gym.make('opsgym/Example-SWE-1', scoring=False, perturbation='example-crlf')\n"
        "obs, info = env.reset(seed=0)\n"
        "print(info['task_id'], '\\r\\n' in obs)\n"
        "env.close()\n"
    )
    proc = run_python(code, extra_path=example_plugin)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["Example-SWE-1", "True"]


def test_broken_plugins_are_reported_by_name_and_others_still_load(broken_plugin):
    reg = registry_in_subprocess(broken_plugin)
    errors = "\n".join(reg["errors"])
    assert "'broken-import'" in errors and "opsgym_does_not_exist" in errors
    assert "'name-thief'" in errors and "'oracle'" in errors
    assert reg["agent"]["oracle"][0] == "opsgym.agents.builtin"
    assert reg["agent"]["well-behaved-agent"] == ["well-behaved", "opsgym-broken-fixture"]


def test_allow_list_limits_which_plugins_load(broken_plugin):
    reg = registry_in_subprocess(broken_plugin, env={"OPSGYM_LOAD_PLUGINS": "well-behaved"})
    assert reg["errors"] == []
    assert "well-behaved-agent" in reg["agent"]
    none = registry_in_subprocess(broken_plugin, env={"OPSGYM_LOAD_PLUGINS": ""})
    assert "well-behaved-agent" not in none["agent"] and "oracle" in none["agent"]
