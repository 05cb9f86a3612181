"""Built-in plugin: the cluster backends opsgym ships.

A factory with ``shared_cluster = True`` runs every episode on one real cluster, so a run refuses to overlap its
episodes (:func:`opsgym.runner.plan.check_execution`); the embedded simulator gives each episode its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.hookspecs import Register, hookimpl


def _shared(factory: Callable[..., Any]) -> Callable[..., Any]:
    setattr(factory, "shared_cluster", True)  # noqa: B010 (an attribute the registry's readers look up by name)
    return factory


def _sim(**options: Any) -> Any:
    from opsgym.cluster.sim import SimCluster

    return SimCluster(**options)


@_shared
def _kind(**options: Any) -> Any:
    from opsgym.cluster.kind import KindCluster

    return KindCluster(**options)


@_shared
def _kubeconfig(**options: Any) -> Any:
    from opsgym.cluster.kubeconfig import KubeconfigCluster

    return KubeconfigCluster(**options)


@hookimpl
def register_cluster_backends(register: Register) -> None:
    register("sim", _sim)
    register("kind", _kind)
    register("kubeconfig", _kubeconfig)
