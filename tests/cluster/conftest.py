"""Fixtures for cluster tests: an embedded cluster per test (cheap: a few milliseconds)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opsgym.cluster.sim import SimCluster


@pytest.fixture
def sim_cluster() -> Iterator[SimCluster]:
    """A started embedded cluster running the real simulated runtime; closed after the test."""
    with SimCluster() as cluster:
        yield cluster
