"""Fixtures for the embedded cluster's tests (helpers live in ``simkit``)."""

from __future__ import annotations

import pytest
from simkit import FakeRuntime

from opsgym.cluster.sim.engine import Engine


@pytest.fixture
def fake_runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def engine(fake_runtime: FakeRuntime) -> Engine:
    """A bare engine (no HTTP) whose containers run on the fake runtime."""
    return Engine(seed=7, runner=fake_runtime)
