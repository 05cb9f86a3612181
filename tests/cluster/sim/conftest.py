"""Fixtures for the embedded cluster's tests (helpers live in ``simkit``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simkit import FakeRuntime, Kubectl

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.engine import Engine


@pytest.fixture
def fake_runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def engine(fake_runtime: FakeRuntime) -> Engine:
    """A bare engine (no HTTP) whose containers run on the fake runtime."""
    return Engine(seed=7, runner=fake_runtime)


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    """One embedded cluster per module (a module that needs its own seed or image catalog defines its own)."""
    with SimCluster(seed=3) as sim:
        yield sim


@pytest.fixture(scope="module")
def empty(cluster: SimCluster) -> Any:
    """The module's own ``cluster`` fixture (its seed, its image catalog) as it started."""
    return cluster.snapshot()


@pytest.fixture
def fresh_kubectl(cluster: SimCluster, empty: Any, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """kubectl on the module's cluster restored to how it started: every test begins on a fresh cluster."""
    cluster.restore(empty)
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))
