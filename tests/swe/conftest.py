"""Fixtures for the SWE tests: a tiny task folder, a sandbox, and a skip (with the reason) where bwrap is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from opsgym.tasks import TaskSpec, load_task

FIXTURES = Path(__file__).resolve().parent / "fixtures"

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap is not installed (apt-get install bubblewrap)")


@pytest.fixture
def tiny_task() -> TaskSpec:
    """clamp() off by one at the upper bound: 2 FAIL_TO_PASS, 3 PASS_TO_PASS tests."""
    return load_task(FIXTURES / "tiny")


@pytest.fixture
def env(tiny_task):
    """The tiny task's environment, reset, closed after the test (a step that blocks fails the test's timeout)."""
    from opsgym.env import make_env

    environment = make_env(tiny_task, backend_options={"timeout_s": 60})
    environment.reset(seed=0)
    yield environment
    environment.close()


def step(env, action):
    """One step: ``(observation, reward, terminated, info, the action's record)``."""
    obs, reward, terminated, _, info = env.step(action)
    return obs, reward, terminated, info, env.unwrapped._actions[-1]


@pytest.fixture
def sandbox():
    from opsgym.swe.sandbox import Limits, Sandbox

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    box = Sandbox("bwrap", limits=Limits(timeout_s=20))
    yield box
    box.close()


@pytest.fixture(autouse=True, scope="session")
def _private_workspace_root(tmp_path_factory):
    """Keep workspaces and exported commits of these tests out of the machine-wide ``<tmp>/opsgym-swe``."""
    old = os.environ.get("OPSGYM_SWE_WORKDIR")
    os.environ["OPSGYM_SWE_WORKDIR"] = str(tmp_path_factory.mktemp("opsgym-swe"))
    yield
    if old is None:
        os.environ.pop("OPSGYM_SWE_WORKDIR", None)
    else:
        os.environ["OPSGYM_SWE_WORKDIR"] = old
