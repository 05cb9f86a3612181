"""Every Kubernetes kind opsgym knows, as discovery describes it, and the one alias table made from that list.

One :class:`Kind` row per REST resource: group/version, plural, short names, scope, categories and subresources, as a
real API server's discovery documents give them (kubectl resolves ``po``, ``deploy`` or ``all`` from exactly these).
The simulator serves a subset of these rows (:mod:`opsgym.cluster.sim.kinds`); the kubectl front-end and the scoring
turn what an agent typed (``deploy``, ``Pods``, ``deployments.apps``) into a canonical kind with
:func:`canonical_kind`. A new kind is one row here, and every reader learns its names at once.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "KIND_ALIASES", "Kind", "canonical_kind", "kind_named"]


@dataclass(frozen=True)
class Kind:
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


_ALL = ("all",)
_SCALE = ("status", "scale")
_RBAC = "rbac.authorization.k8s.io"

KINDS: tuple[Kind, ...] = (
    Kind("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
         subresources=("status", "finalize")),
    Kind("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",)),
    Kind("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL,
         subresources=("status", "log", "exec", "attach", "portforward", "eviction")),
    Kind("", "v1", "Service", "services", short_names=("svc",), categories=_ALL, subresources=("status", "proxy")),
    Kind("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    Kind("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    Kind("", "v1", "Secret", "secrets"),
    Kind("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    Kind("", "v1", "Event", "events", short_names=("ev",)),
    Kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",), subresources=("status",)),
    Kind("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",),
         subresources=("status",)),
    Kind("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL, subresources=_SCALE,
         generation=True),
    Kind("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL, subresources=_SCALE,
         generation=True),
    Kind("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=_ALL, subresources=_SCALE,
         generation=True),
    Kind("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=_ALL, subresources=("status",),
         generation=True),
    Kind("batch", "v1", "Job", "jobs", categories=_ALL, subresources=("status",), generation=True),
    Kind("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=_ALL, subresources=("status",),
         generation=True),
    Kind("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short_names=("hpa",),
         categories=_ALL, subresources=("status",)),
    Kind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    Kind("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), subresources=("status",),
         generation=True),
    Kind("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short_names=("netpol",)),
    Kind(_RBAC, "v1", "Role", "roles"),
    Kind(_RBAC, "v1", "RoleBinding", "rolebindings"),
    Kind(_RBAC, "v1", "ClusterRole", "clusterroles", namespaced=False),
    Kind(_RBAC, "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    Kind("", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=("status",)),
    Kind("", "v1", "LimitRange", "limitranges", short_names=("limits",)),
    Kind("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",)),
    Kind("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    Kind("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
         subresources=("status",), generation=True),
    Kind("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short_names=("pc",)),
)

_BY_NAME: dict[str, Kind] = {k.kind: k for k in KINDS}

KIND_ALIASES: dict[str, str] = {
    alias: k.kind for k in KINDS for alias in (k.singular, k.plural, *k.short_names)
}
"""Every lower-case word kubectl resolves to a kind (singular, plural, short names), built once at import."""


def canonical_kind(word: str) -> str:
    """``deploy``, ``Pods``, ``secrets.v1.`` or ``deployments.apps`` → the canonical kind (unknown words unchanged,
    so custom resources keep their names)."""
    lower = word.lower()
    return KIND_ALIASES.get(lower) or KIND_ALIASES.get(lower.split(".")[0], word)


def kind_named(kind: str) -> Kind:
    """The row of a canonical kind name (``Deployment``); KeyError for a kind opsgym does not know."""
    return _BY_NAME[kind]
