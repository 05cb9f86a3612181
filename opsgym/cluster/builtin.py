"""Built-in plugin: the cluster backends opsgym ships."""

from __future__ import annotations

from opsgym.hookspecs import hookimpl


def _sim(**options):
    from opsgym.cluster.sim import SimCluster

    return SimCluster(**options)


def _kind(**options):
    from opsgym.cluster.kind import KindCluster

    return KindCluster(**options)


def _kubeconfig(**options):
    from opsgym.cluster.kubeconfig import KubeconfigCluster

    return KubeconfigCluster(**options)


@hookimpl
def register_cluster_backends(register):
    register("sim", _sim)
    register("kind", _kind)
    register("kubeconfig", _kubeconfig)
