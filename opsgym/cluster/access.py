"""The agent's identity on a real cluster: a ServiceAccount that can act inside the task namespace and nowhere else.

On the embedded cluster the agent's kubeconfig reaches a throw-away API. On kind and on a user's cluster the same
kubectl actions run against a real API server, so the agent gets its own ServiceAccount, a Role granting exactly the
verbs the kubectl allowlist can produce (read, create, patch/update, delete, ``exec`` into pods — never RBAC, never
tokens, never escalation) on the workload resources of the task namespace, and a kubeconfig holding only that
account's short-lived token. Whatever the agent types, the API server itself stops it at the namespace boundary:
nodes (cordon, drain, taint) stay read-only there, as a real cluster's nodes outlive the episode.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

__all__ = ["AGENT", "MANAGED_BY", "MANAGED_LABELS", "NAMESPACE_LABEL", "agent_access_objects", "agent_kubeconfig",
           "cluster_entry", "owned", "write_kubeconfig"]

AGENT = "opsgym-agent"
"""Name of the agent's ServiceAccount, Role and RoleBinding in each task namespace."""

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_LABELS = {MANAGED_BY: "opsgym"}
"""Every object opsgym creates on a real cluster carries these labels; only such objects are ever deleted."""

NAMESPACE_LABEL = "opsgym.io/namespace"
"""On cluster-scoped objects (ClusterRoleBinding): the task namespace they belong to, for teardown."""

AGENT_VERBS = ["get", "list", "watch", "create", "patch", "update", "delete"]
"""What ``kubectl get|describe|logs|scale|patch|label|annotate|set|rollout|delete`` need, and ``create|apply|run|
expose|autoscale`` (creation inside the task namespace, which goes away with the episode)."""

NAMESPACED_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods", "services", "endpoints", "configmaps", "secrets",
                                      "persistentvolumeclaims", "replicationcontrollers", "resourcequotas",
                                      "limitranges"], "verbs": AGENT_VERBS},
    {"apiGroups": [""], "resources": ["pods/log", "events", "serviceaccounts"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets",
                                          "controllerrevisions"], "verbs": AGENT_VERBS},
    {"apiGroups": ["apps"], "resources": ["deployments/scale", "replicasets/scale", "statefulsets/scale"],
     "verbs": ["get", "patch", "update"]},
    {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": AGENT_VERBS},
    {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": AGENT_VERBS},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": AGENT_VERBS},
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": AGENT_VERBS},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get", "list"]},
]
"""The Role's rules: secrets stay readable as on the embedded cluster (reading them is a scored penalty, not a wall)."""

CLUSTER_READ_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["namespaces", "nodes", "pods", "services", "endpoints", "events",
                                      "configmaps"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"],
     "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["metrics.k8s.io"], "resources": ["nodes", "pods"], "verbs": ["get", "list"]},
    {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": ["get", "list", "watch"]},
]
"""Extra read-only view of a whole throw-away cluster (kind only), so ``-A`` and ``get nodes`` work as on the sim."""


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_LABELS, **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def agent_access_objects(namespace: str, *, cluster_read: bool = False) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding for the agent in ``namespace`` (plus a cluster-wide read binding on kind).

    Args:
        namespace: the task namespace; the Role and its binding live there and grant nothing elsewhere.
        cluster_read: also bind a read-only ClusterRole (namespaces, nodes, workloads; never secrets). Only for
            clusters opsgym owns (kind): on a user's cluster the agent must not even list what else runs there.
    """
    subject = {"kind": "ServiceAccount", "name": AGENT, "namespace": namespace}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(AGENT, namespace),
         "automountServiceAccountToken": False},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(AGENT, namespace),
         "rules": [dict(rule) for rule in NAMESPACED_RULES]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": _meta(AGENT, namespace),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": AGENT},
         "subjects": [subject]},
    ]
    if cluster_read:
        read_role = f"{AGENT}-cluster-read"
        objects += [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": _meta(read_role),
             "rules": [dict(rule) for rule in CLUSTER_READ_RULES]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": _meta(f"{read_role}-{namespace}", **{NAMESPACE_LABEL: namespace}),
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": read_role},
             "subjects": [subject]},
        ]
    return objects


def owned(obj_labels: dict[str, str] | None) -> bool:
    """Whether an object's labels mark it as created by opsgym (the only objects opsgym deletes)."""
    return all((obj_labels or {}).get(k) == v for k, v in MANAGED_LABELS.items())


def cluster_entry(config: dict[str, Any], context: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """``(context name, cluster name, cluster entry)`` of a parsed kubeconfig (``context`` or the current one).

    Raises:
        KeyError: the context or its cluster is not in the file (the message names what is missing).
    """
    name = context or config.get("current-context") or ""
    contexts = {c.get("name"): c.get("context") or {} for c in config.get("contexts") or []}
    if name not in contexts:
        raise KeyError(f"context {name!r} is not in the kubeconfig (it has: {', '.join(map(str, contexts)) or 'none'})")
    cluster_name = str(contexts[name].get("cluster", ""))
    clusters = {c.get("name"): c.get("cluster") or {} for c in config.get("clusters") or []}
    if cluster_name not in clusters:
        raise KeyError(f"context {name!r} names cluster {cluster_name!r}, which the kubeconfig does not define")
    return name, cluster_name, clusters[cluster_name]


def agent_kubeconfig(cluster: dict[str, Any], token: str, *, base: Path | None = None) -> dict[str, Any]:
    """A kubeconfig reaching ``cluster`` (an admin kubeconfig's cluster entry) as the agent's token, nothing else.

    The CA is inlined (a relative ``certificate-authority`` path is resolved against ``base``, the admin file's
    folder) so the file works wherever kubectl runs. No namespace is set: as on the embedded cluster, the agent
    names the namespace with ``-n``.
    """
    entry: dict[str, Any] = {"server": cluster["server"]}
    if cluster.get("certificate-authority-data"):
        entry["certificate-authority-data"] = cluster["certificate-authority-data"]
    elif cluster.get("certificate-authority"):
        ca_path = Path(cluster["certificate-authority"])
        ca_path = ca_path if ca_path.is_absolute() or base is None else base / ca_path
        entry["certificate-authority-data"] = base64.b64encode(ca_path.read_bytes()).decode()
    if cluster.get("insecure-skip-tls-verify"):
        entry["insecure-skip-tls-verify"] = True
    if cluster.get("tls-server-name"):
        entry["tls-server-name"] = cluster["tls-server-name"]
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": "opsgym", "cluster": entry}],
            "users": [{"name": AGENT, "user": {"token": token}}],
            "contexts": [{"name": AGENT, "context": {"cluster": "opsgym", "user": AGENT}}],
            "current-context": AGENT}


def write_kubeconfig(path: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` readable by its owner only, atomically (kubectl never sees a half-written token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
