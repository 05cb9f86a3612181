"""SWE sandboxes are a registry like cluster backends: built-ins register through a hook, a name is looked up there
(unknown → suggestions), and a SWE env builds whatever the registry holds under its ``backend``."""

from __future__ import annotations

import pytest

from opsgym import plugins
from opsgym.errors import SandboxUnavailableError, UnknownNameError
from opsgym.swe.sandbox import Sandbox, open_sandbox
from tests.conftest import run_python


def test_the_built_in_sandboxes_register_through_the_hook():
    sandboxes = plugins.entries("sandbox backend")
    assert set(sandboxes) >= {"bwrap", "unsafe-local"}
    assert {sandboxes[n].plugin for n in ("bwrap", "unsafe-local")} == {"opsgym.swe.domain"}


def test_an_unknown_sandbox_suggests_the_closest_name():
    with pytest.raises(UnknownNameError) as err:
        open_sandbox("bwarp")
    assert err.value.suggestions == ["bwrap"]
    assert "unknown SWE sandbox backend 'bwarp'" in str(err.value)
    assert isinstance(err.value, SandboxUnavailableError)  # what code catching an unusable sandbox expects


def test_open_sandbox_builds_the_registered_backend_with_its_options():
    with pytest.warns(RuntimeWarning, match="UNISOLATED"):
        box = open_sandbox("unsafe-local", packages=("pytest", "pydantic"))
    try:
        assert isinstance(box, Sandbox) and box.backend == "unsafe-local" and box.packages == ("pytest", "pydantic")
    finally:
        box.close()


def test_a_swe_env_uses_a_sandbox_a_plugin_registered(monkeypatch, tiny_task):
    from opsgym.env import OpsEnv

    built = []

    def factory(**options):
        built.append(sorted(options))
        return Sandbox("unsafe-local", **options)

    plugins.load_plugins()
    monkeypatch.setitem(plugins._REGISTRIES["sandbox backend"], "counting",
                        plugins.Entry("sandbox backend", "counting", factory, "tests", "tests"))
    env = OpsEnv(tiny_task, backend="counting")
    try:
        with pytest.warns(RuntimeWarning, match="UNISOLATED"):
            env.reset(seed=0)
        _, _, terminated, _, info = env.step("submit")
    finally:
        env.close()
    assert built == [["limits", "packages", "python"]]
    assert terminated and info["outcome"]["backend"] == "counting"


def test_opsgym_list_shows_sandboxes_and_domains():
    proc = run_python("from opsgym.cli import app; app(['list'])", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "sandbox backends" in proc.stdout and "domains" in proc.stdout
    for line in ("unsafe-local", "bwrap", "opsgym.swe.domain", "opsgym.sre.domain"):
        assert line in proc.stdout
