"""Built-in plugin: the cluster backends opsgym ships."""

from __future__ import annotations

from opsgym.hookspecs import hookimpl


def _sim(**options):
    from opsgym.cluster.sim import SimCluster

    return SimCluster(**options)


@hookimpl
def register_cluster_backends(register):
    register("sim", _sim)
