"""RBAC as kube-apiserver 1.32 enforces it: request attributes, rule matching, the Forbidden wording, and the
default cluster roles and bindings a kind cluster starts with.

Every request of a non-admin identity is authorized here before it is routed (the admin kubeconfig, which all of
opsgym's own code uses, is the cluster owner and is never evaluated, so nothing changes for it). The evaluation walks
ClusterRoleBindings, then the RoleBindings of the request's namespace, exactly as the RBAC authorizer does, so an
agent given a ServiceAccount kubeconfig meets the same walls, messages and ``kubectl auth can-i`` answers as on kind.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.status import ApiError
from opsgym.k8s.selectors import matches_selector

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine
    from opsgym.cluster.sim.store import Store

__all__ = ["ADMIN", "Attributes", "User", "aggregate", "attributes", "authorize", "bootstrap", "forbidden",
           "rules_for", "store_bootstrap"]

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
NAMESPACE_SUBRESOURCES = ("status", "finalize")


@dataclass(frozen=True)
class User:
    """An authenticated identity, as ``kubectl auth whoami`` shows it."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def info(self) -> Obj:
        """The ``UserInfo`` of SelfSubjectReview and SubjectAccessReview."""
        info: Obj = {"username": self.name}
        if self.uid:
            info["uid"] = self.uid
        info["groups"] = list(self.groups)
        if self.extra:
            info["extra"] = {k: list(v) for k, v in self.extra.items()}
        return info


ADMIN = User("kubernetes-admin", ("kubeadm:cluster-admins", "system:authenticated"))
"""The identity of the admin kubeconfig: kind's (kubeadm >= 1.29 ``admin.conf``), bound to cluster-admin."""


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do (apiserver's ``RequestInfo``)."""

    verb: str
    path: str
    resource_request: bool = False
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


def attributes(method: str, segments: list[str], query: Mapping[str, str]) -> Attributes:
    """The request attributes the authorizer sees, following kube-apiserver's ``RequestInfoFactory``."""
    path = "/" + "/".join(segments)
    method = method.upper()
    if not segments or segments[0] not in ("api", "apis") or len(segments) < 3 or \
            (segments[0] == "apis" and len(segments) < 4):
        return Attributes({"GET": "get", "HEAD": "head"}.get(method, method.lower()), path)
    group, parts = ("", segments[2:]) if segments[0] == "api" else (segments[1], segments[3:])
    verb = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete"}.get(method, method.lower())
    namespace = ""
    if parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    resource = parts[0]
    name = parts[1] if len(parts) > 1 else ""
    subresource = parts[2] if len(parts) > 2 else ""
    if not name and verb == "get":
        verb = "watch" if query.get("watch", "").lower() in ("1", "true") else "list"
        selector = query.get("fieldSelector", "")
        if selector.startswith("metadata.name=") and "," not in selector:
            name = selector.split("=", 1)[1]
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(verb, path, True, group, resource, subresource, namespace, name)


# ---------------------------------------------------------------------------------------------------- evaluation
def _has(values: list[str] | None, wanted: str) -> bool:
    return bool(values) and ("*" in values or wanted in values)  # type: ignore[operator]


def rule_allows(attrs: Attributes, rule: Obj) -> bool:
    """Whether one PolicyRule covers the request (``*`` verbs, groups and resources; ``*/sub``; resourceNames;
    nonResourceURLs with a trailing ``*``)."""
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return any(u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1]))
                   for u in rule.get("nonResourceURLs") or [])
    if not _has(rule.get("apiGroups"), attrs.group):
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or []
    if not any(r in ("*", combined) or (attrs.subresource and r == f"*/{attrs.subresource}") for r in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject(subject: Obj, namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or namespace}"'
    return f'{kind} "{name}"'


def _applies(subject: Obj, user: User, namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        return user.name == f"system:serviceaccount:{subject.get('namespace') or namespace}:{name}"
    return False


def _bindings(store: Store, user: User, namespace: str) -> Iterator[tuple[str, list[Obj] | None, str]]:
    """(description, rules or None when the role is missing, error) for every binding that names ``user``."""
    scopes: list[tuple[str, str]] = [("clusterrolebindings", "")]
    if namespace:
        scopes.append(("rolebindings", namespace))
    for plural, ns in scopes:
        for binding in store.items(plural, ns or None):
            subject = next((s for s in binding.get("subjects") or [] if _applies(s, user, ns)), None)
            if subject is None:
                continue
            ref = binding.get("roleRef") or {}
            kind, role_name = ref.get("kind", ""), ref.get("name", "")
            role = store.get("roles", ns, role_name) if kind == "Role" else store.get("clusterroles", "", role_name)
            label = f"{binding['metadata']['name']}/{ns}" if ns else binding["metadata"]["name"]
            what = "RoleBinding" if ns else "ClusterRoleBinding"
            described = f'{what} "{label}" of {kind} "{role_name}" to {_subject(subject, ns)}'
            if role is None:
                yield described, None, f'{kind.lower()}.{RBAC} "{role_name}" not found'
            else:
                yield described, list(role.get("rules") or []), ""


def authorize(store: Store, user: User, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason) as the RBAC authorizer decides; the reason names the granting binding, or the roles a
    binding points at that do not exist. ``system:masters`` is allowed everything without RBAC, as by the API
    server's privileged-group authorizer."""
    if "system:masters" in user.groups:
        return True, ""
    errors: list[str] = []
    for described, rules, error in _bindings(store, user, attrs.namespace):
        if rules is None:
            errors.append(error)
            continue
        if any(rule_allows(attrs, r) for r in rules):
            return True, f"RBAC: allowed by {described}"
    if not errors:
        return False, ""
    return False, "RBAC: " + (errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")


def forbidden(user: User, attrs: Attributes, reason: str = "") -> ApiError:
    """The 403 kube-apiserver answers a request RBAC denies (``pods is forbidden: User "…" cannot list …``)."""
    if not attrs.resource_request:
        what = f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
        return ApiError(403, "Forbidden", f"forbidden: {what}" + (f": {reason}" if reason else ""), {})
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    what = f'User "{user.name}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}" {where}'
    if reason:
        what += f": {reason}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    message = f'{qualified} "{attrs.name}" is forbidden: {what}' if attrs.name else f"{qualified} is forbidden: {what}"
    details: Obj = {"name": attrs.name, "group": attrs.group, "kind": attrs.resource}
    return ApiError(403, "Forbidden", message, {k: v for k, v in details.items() if v})


def rules_for(store: Store, user: User, namespace: str) -> tuple[list[Obj], list[Obj], list[str]]:
    """(resource rules, non-resource rules, errors) that apply to ``user`` in ``namespace``: SelfSubjectRulesReview."""
    resource_rules: list[Obj] = []
    non_resource: list[Obj] = []
    errors: list[str] = []
    for _, rules, error in _bindings(store, user, namespace):
        if rules is None:
            errors.append(error)
            continue
        for rule in rules:
            if rule.get("nonResourceURLs"):
                non_resource.append({"verbs": list(rule.get("verbs") or []),
                                     "nonResourceURLs": list(rule["nonResourceURLs"])})
            else:
                entry = {k: list(rule[k]) for k in ("verbs", "apiGroups", "resources", "resourceNames") if rule.get(k)}
                entry.setdefault("verbs", [])
                resource_rules.append(entry)
    return resource_rules, non_resource, errors


# ---------------------------------------------------------------------------------------------------- aggregation
def aggregate(store: Store) -> None:
    """The clusterrole-aggregation controller: a ClusterRole with an ``aggregationRule`` holds the rules of every
    ClusterRole its selectors match (sorted by name, each rule once); run until nothing changes."""
    roles = store.items("clusterroles")
    for role in roles:
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if not selectors:
            continue
        rules: list[Obj] = []
        for other in sorted(roles, key=lambda r: r["metadata"]["name"]):
            if other is role or not any(matches_selector(s, other["metadata"].get("labels") or {})
                                        for s in selectors):
                continue
            rules.extend(r for r in other.get("rules") or [] if r not in rules)
        if rules != (role.get("rules") or []):
            fresh = dict(role, rules=rules)
            fresh["metadata"] = dict(role["metadata"])
            store.put("clusterroles", fresh)


# ---------------------------------------------------------------------------------------------------- bootstrap
READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]


def _rule(groups: str, resources: str, verbs: list[str]) -> Obj:
    return {"apiGroups": groups.split(",") if groups != "-" else [""], "resources": resources.split(),
            "verbs": list(verbs)}


VIEW = [
    _rule("-", "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status pods replicationcontrollers "
          "replicationcontrollers/scale serviceaccounts services services/status", READ),
    _rule("-", "bindings events limitranges namespaces/status pods/log pods/status replicationcontrollers/status "
          "resourcequotas resourcequotas/status", READ),
    _rule("-", "namespaces", READ),
    _rule("discovery.k8s.io", "endpointslices", READ),
    _rule("apps", "controllerrevisions daemonsets daemonsets/status deployments deployments/scale deployments/status "
          "replicasets replicasets/scale replicasets/status statefulsets statefulsets/scale statefulsets/status", READ),
    _rule("autoscaling", "horizontalpodautoscalers horizontalpodautoscalers/status", READ),
    _rule("batch", "cronjobs cronjobs/status jobs jobs/status", READ),
    _rule("extensions", "daemonsets daemonsets/status deployments deployments/scale deployments/status ingresses "
          "ingresses/status networkpolicies replicasets replicasets/scale replicasets/status "
          "replicationcontrollers/scale", READ),
    _rule("policy", "poddisruptionbudgets poddisruptionbudgets/status", READ),
    _rule("networking.k8s.io", "ingresses ingresses/status networkpolicies", READ),
]
EDIT = [
    _rule("-", "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy", READ),
    _rule("-", "serviceaccounts", ["impersonate"]),
    _rule("-", "pods pods/attach pods/exec pods/portforward pods/proxy", WRITE),
    _rule("-", "pods/eviction", ["create"]),
    _rule("-", "configmaps events persistentvolumeclaims replicationcontrollers replicationcontrollers/scale secrets "
          "serviceaccounts services services/proxy", WRITE),
    _rule("-", "serviceaccounts/token", ["create"]),
    _rule("apps", "daemonsets deployments deployments/rollback deployments/scale replicasets replicasets/scale "
          "statefulsets statefulsets/scale", WRITE),
    _rule("autoscaling", "horizontalpodautoscalers", WRITE),
    _rule("batch", "cronjobs jobs", WRITE),
    _rule("extensions", "daemonsets deployments deployments/rollback deployments/scale ingresses networkpolicies "
          "replicasets replicasets/scale replicationcontrollers/scale", WRITE),
    _rule("policy", "poddisruptionbudgets", WRITE),
    _rule("networking.k8s.io", "ingresses networkpolicies", WRITE),
    _rule("coordination.k8s.io", "leases", [*WRITE[:3], "get", "list", *WRITE[3:], "watch"]),
]
ADMIN_RULES = [
    _rule("authorization.k8s.io", "localsubjectaccessreviews", ["create"]),
    _rule(RBAC, "rolebindings roles", ["create", "delete", "deletecollection", "get", "list", "patch", "update",
                                       "watch"]),
]
PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
DEFAULT_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def _aggregated(to: str) -> Obj:
    return {"clusterRoleSelectors": [{"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{to}": "true"}}]}


def _aggregates_to(to: str) -> dict[str, str]:
    return {f"rbac.authorization.k8s.io/aggregate-to-{to}": "true"}


CLUSTER_ROLES: list[tuple[str, dict[str, str], Obj]] = [
    ("admin", {}, {"aggregationRule": _aggregated("admin"), "rules": []}),
    ("cluster-admin", {}, {"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                     {"nonResourceURLs": ["*"], "verbs": ["*"]}]}),
    ("edit", _aggregates_to("admin"), {"aggregationRule": _aggregated("edit"), "rules": []}),
    ("system:aggregate-to-admin", _aggregates_to("admin"), {"rules": ADMIN_RULES}),
    ("system:aggregate-to-edit", _aggregates_to("edit"), {"rules": EDIT}),
    ("system:aggregate-to-view", _aggregates_to("view"), {"rules": VIEW}),
    ("system:basic-user", {}, {"rules": [_rule("authorization.k8s.io", "selfsubjectaccessreviews "
                                               "selfsubjectrulesreviews", ["create"]),
                                         _rule("authentication.k8s.io", "selfsubjectreviews", ["create"])]}),
    ("system:discovery", {}, {"rules": [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
                                                             "/livez", "/openapi", "/openapi/*", "/readyz",
                                                             "/version", "/version/"], "verbs": ["get"]}]}),
    ("system:public-info-viewer", {}, {"rules": [{"nonResourceURLs": PUBLIC_URLS, "verbs": ["get"]}]}),
    ("view", _aggregates_to("edit"), {"aggregationRule": _aggregated("view"), "rules": []}),
]
"""The default ClusterRoles that matter to a user of the cluster (kind also has ~60 ``system:controller:*`` roles)."""

CLUSTER_ROLE_BINDINGS: list[tuple[str, str, list[str], bool]] = [
    ("cluster-admin", "cluster-admin", ["system:masters"], True),
    ("kubeadm:cluster-admins", "cluster-admin", ["kubeadm:cluster-admins"], False),
    ("system:basic-user", "system:basic-user", ["system:authenticated"], True),
    ("system:discovery", "system:discovery", ["system:authenticated"], True),
    ("system:public-info-viewer", "system:public-info-viewer", ["system:authenticated", "system:unauthenticated"],
     True),
]
"""(name, ClusterRole, groups, bootstrapping defaults): kubeadm binds its admin group; the rest are the API server's."""


def store_bootstrap(engine: Engine, plural: str, obj: Obj, rng: random.Random) -> None:
    """Put a bootstrap object straight into the store, with a uid from ``rng``: the engine's own generator must not
    move, so every pod name and uid of an existing scenario stays what it was."""
    obj["metadata"].update(uid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                           creationTimestamp=engine.stamp())
    engine.store.put(plural, obj)


def bootstrap(engine: Engine) -> None:
    """Create the default ClusterRoles (aggregated) and ClusterRoleBindings of a fresh kind cluster."""
    rng = random.Random(f"rbac-bootstrap-{engine.seed}")
    for name, labels, body in CLUSTER_ROLES:
        meta: Obj = {"name": name, "labels": {**DEFAULT_LABELS, **labels}, "annotations": dict(AUTOUPDATE)}
        store_bootstrap(engine, "clusterroles", {"kind": "ClusterRole", "apiVersion": f"{RBAC}/v1", "metadata": meta,
                                         **copy.deepcopy(body)}, rng)
    for name, role, groups, defaults in CLUSTER_ROLE_BINDINGS:
        meta = {"name": name}
        if defaults:
            meta |= {"labels": dict(DEFAULT_LABELS), "annotations": dict(AUTOUPDATE)}
        store_bootstrap(engine, "clusterrolebindings", {
            "kind": "ClusterRoleBinding", "apiVersion": f"{RBAC}/v1", "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": RBAC, "kind": "Group", "name": g} for g in groups]}, rng)
    for _ in range(3):
        aggregate(engine.store)
