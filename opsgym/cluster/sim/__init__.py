"""The embedded Kubernetes cluster: a real API surface for kubectl and the Python client, with no Docker."""

from __future__ import annotations

from opsgym.cluster.sim.cluster import SimCluster
from opsgym.cluster.sim.server import SimServer

__all__ = ["SimCluster", "SimServer"]
