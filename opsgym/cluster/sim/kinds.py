"""The resource types the embedded cluster serves, and the discovery documents kubectl maps kinds with.

One :class:`ResourceType` row per REST resource: everything discovery, routing, error messages and the OpenAPI
stubs need. kubectl resolves ``po``, ``deploy`` or ``all`` from these documents, so short names and categories here
are exactly the real API server's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["BY_KIND", "BY_PATH", "RESOURCES", "ResourceType", "api_group_list", "api_resource_list", "lookup"]

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    """A REST resource (``pods``, ``deployments.apps`` …) as discovery describes it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    generation: bool = False
    """Whether spec changes bump ``metadata.generation`` (workloads with a controller)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """``deployments.apps`` / ``pods``: how errors name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_qualified(self) -> str:
        """``Deployment.apps`` / ``Pod``: how validation errors name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
                 subresources=("status", "finalize")),
    ResourceType("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",)),
    ResourceType("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
                 subresources=("status", "log", "exec", "attach", "portforward", "eviction")),
    ResourceType("", "v1", "Service", "services", short_names=("svc",), categories=("all",),
                 subresources=("status", "proxy")),
    ResourceType("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    ResourceType("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    ResourceType("", "v1", "Secret", "secrets"),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    ResourceType("", "v1", "Event", "events", short_names=("ev",)),
    ResourceType("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
                 subresources=("status", "scale"), generation=True),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",),
                 subresources=("status", "scale"), generation=True),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",),
                 subresources=("status",), generation=True),
)

BY_PATH: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], ResourceType] = {(r.api_version, r.kind): r for r in RESOURCES}
BY_PLURAL: dict[str, ResourceType] = {r.plural: r for r in RESOURCES}
GROUP_VERSIONS: tuple[tuple[str, str], ...] = tuple(dict.fromkeys((r.group, r.version) for r in RESOURCES))


def lookup(plural: str) -> ResourceType:
    """The resource type for a plural name (controllers use it; names are unique across our groups)."""
    return BY_PLURAL[plural]


def _subresource_entry(rt: ResourceType, sub: str) -> dict[str, Any]:
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
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    """``/apis/G``: one group, or None."""
    for entry in api_group_list()["groups"]:
        if entry["name"] == group:
            return {"kind": "APIGroup", "apiVersion": "v1", **entry}
    return None
