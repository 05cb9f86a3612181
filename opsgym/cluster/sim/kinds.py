"""The resource types the embedded cluster serves, and the discovery documents kubectl maps kinds with.

The rows (:class:`~opsgym.k8s.kinds.Kind`: everything discovery, routing, error messages and the OpenAPI stubs need)
are the vocabulary's; this module picks the ones served and writes the discovery documents from them. kubectl resolves
``po``, ``deploy`` or ``all`` from these documents, so short names and categories are exactly the real API server's.
"""

from __future__ import annotations

from typing import Any

from opsgym.cluster.sim import hpa_v1, metrics
from opsgym.k8s.kinds import Kind, kind_named

__all__ = ["BY_KIND", "BY_PATH", "RESOURCES", "api_group_list", "api_resource_list", "lookup"]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

SERVED = ("Namespace", "Node", "Pod", "Service", "Endpoints", "ConfigMap", "Secret", "ServiceAccount", "Event",
          "PersistentVolumeClaim", "PersistentVolume", "ResourceQuota", "LimitRange",
          "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "HorizontalPodAutoscaler",
          "EndpointSlice", "Ingress", "IngressClass", "NetworkPolicy", "StorageClass", "PodDisruptionBudget",
          "PriorityClass", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
"""The kinds the simulator implements, in discovery order; their rows come from :mod:`opsgym.k8s.kinds`."""
RESOURCES: tuple[Kind, ...] = tuple(kind_named(k) for k in SERVED)

BY_PATH: dict[tuple[str, str, str], Kind] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], Kind] = {(r.api_version, r.kind): r for r in RESOURCES}
BY_PLURAL: dict[str, Kind] = {r.plural: r for r in RESOURCES}
GROUP_VERSIONS: tuple[tuple[str, str], ...] = tuple(dict.fromkeys((r.group, r.version) for r in RESOURCES))


def lookup(plural: str) -> Kind:
    """The resource type for a plural name (controllers use it; names are unique across our groups)."""
    return BY_PLURAL[plural]


def _subresource_entry(rt: Kind, sub: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": rt.namespaced,
                             "kind": rt.kind, "verbs": ["get", "patch", "update"]}
    if sub == "scale":
        entry |= {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    elif sub == "log":
        entry |= {"kind": "Pod", "verbs": ["get"]}
    elif sub in ("exec", "attach", "portforward"):
        entry |= {"kind": "PodExecOptions" if sub == "exec" else "PodAttachOptions" if sub == "attach"
                  else "PodPortForwardOptions", "verbs": ["create", "get"]}
    elif sub == "eviction":
        entry |= {"group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}
    elif sub == "finalize":
        entry["verbs"] = ["update"]
    elif sub == "proxy":
        entry |= {"kind": "ServiceProxyOptions", "verbs": ["create", "delete", "get", "patch", "update"]}
    return entry


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``/api/v1`` or ``/apis/G/V``: the APIResourceList, or None for an unknown group/version."""
    if (group, version) == (metrics.GROUP, metrics.VERSION):
        return metrics.resource_list()
    if (group, version) == ("autoscaling", "v1"):
        return hpa_v1.resource_list()
    if (group, version) not in GROUP_VERSIONS:
        return None
    resources: list[dict[str, Any]] = []
    for rt in RESOURCES:
        if (rt.group, rt.version) != (group, version):
            continue
        verbs = [v for v in VERBS if not (v == "deletecollection" and rt.plural == "namespaces")]
        entry: dict[str, Any] = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                                 "kind": rt.kind, "verbs": verbs, "storageVersionHash": rt.kind[:4] + "0000000="}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        resources.extend(_subresource_entry(rt, sub) for sub in rt.subresources)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources}


def api_group_list() -> dict[str, Any]:
    """``/apis``: the named groups (the legacy core group is served at ``/api``)."""
    groups = []
    for group, version in GROUP_VERSIONS:
        if not group:
            continue
        gv = {"groupVersion": f"{group}/{version}", "version": version}
        groups.append({"name": group, "versions": [gv], "preferredVersion": gv})
    groups.append(metrics.group_entry())
    hpa_v1.add_version(groups)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    """``/apis/G``: one group, or None."""
    for entry in api_group_list()["groups"]:
        if entry["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **entry}
    return None
