"""RBAC's escalation prevention: nobody grants through a Role or a binding what they do not hold themselves.

Writing a Role or ClusterRole needs every permission in it (or the ``escalate`` verb on it); writing a binding needs
every permission of the role it names (or the ``bind`` verb on that role). Otherwise the API server answers 403 with
the permissions missing, one compact rule a line, as kube-apiserver 1.32 prints them. The admin (and
``system:masters``) is never checked, so an agent that may edit RBAC objects still cannot lift itself above its grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim import rbac
from opsgym.cluster.sim.rbac import RBAC, Attributes, User
from opsgym.cluster.sim.status import ApiError

if TYPE_CHECKING:
    from opsgym.cluster.sim.store import Store

__all__ = ["RBAC_KINDS", "check"]

Obj = dict[str, Any]
RBAC_KINDS = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")


def _quoted(values: list[str]) -> str:
    return "[" + " ".join('"' + v.replace('"', '\\"') + '"' for v in values) + "]"


def _compact(rule: Obj) -> str:
    """``rbacv1helpers.CompactString``: ``{APIGroups:["apps"], Resources:["deployments"], Verbs:["delete"]}``."""
    parts = [f"{label}:{_quoted(rule[key])}" for label, key in (
        ("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
        ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(key)]
    return "{" + ", ".join(parts) + "}"


def _atoms(rule: Obj, namespace: str) -> list[tuple[Obj, Attributes]]:
    """One (rule, request) per verb × group × resource × name (or verb × URL) a rule grants."""
    atoms = []
    for verb in rule.get("verbs") or []:
        for url in rule.get("nonResourceURLs") or []:
            atoms.append(({"nonResourceURLs": [url], "verbs": [verb]}, Attributes(verb, url)))
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                base, _, sub = resource.partition("/")
                for name in rule.get("resourceNames") or [""]:
                    atom = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                    if name:
                        atom["resourceNames"] = [name]
                    atoms.append((atom, Attributes(verb, "", True, group, base, sub, namespace, name)))
    return atoms


def missing(store: Store, user: User, namespace: str, rules: list[Obj]) -> list[str]:
    """The permissions in ``rules`` that ``user`` does not hold in ``namespace``, compacted and sorted."""
    held = rbac.rules_for(store, user, namespace)
    owned = held[0] + held[1]
    by_resource: dict[tuple[str, str], Obj] = {}
    others: list[Obj] = []
    for rule in rules:
        for atom, attrs in _atoms(rule, namespace):
            if any(rbac.rule_allows(attrs, r) for r in owned):
                continue
            if "resourceNames" in atom or "nonResourceURLs" in atom:
                others += [atom] if atom not in others else []
                continue
            entry = by_resource.setdefault((atom["apiGroups"][0], atom["resources"][0]), {**atom, "verbs": []})
            entry["verbs"] += [v for v in atom["verbs"] if v not in entry["verbs"]]
    return sorted(_compact(r) for r in [*by_resource.values(), *others])


def check(store: Store, user: User | None, plural: str, obj: Obj) -> None:
    """Refuse a Role/binding write that would grant ``user`` more than it holds.

    Raises:
        ApiError: 403 naming the permissions not held, or 404 for a binding to a role that does not exist.
    """
    if user is None or user is rbac.ADMIN or "system:masters" in user.groups or plural not in RBAC_KINDS:
        return
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace", "") if plural.startswith("role") else "", meta.get("name", "")
    if plural in ("roles", "clusterroles"):
        if rbac.authorize(store, user, Attributes("escalate", "", True, RBAC, plural, "", namespace, name))[0]:
            return
        rules = list(obj.get("rules") or [])
    else:
        ref = obj.get("roleRef") or {}
        role_plural = "roles" if ref.get("kind") == "Role" else "clusterroles"
        bind = Attributes("bind", "", True, RBAC, role_plural, "", namespace, str(ref.get("name", "")))
        if rbac.authorize(store, user, bind)[0]:
            return
        role = store.get(role_plural, namespace if role_plural == "roles" else "", str(ref.get("name", "")))
        if role is None:
            raise ApiError.not_found(f"{role_plural}.{RBAC}", str(ref.get("name", "")), RBAC)
        rules = list(role.get("rules") or [])
    gaps = missing(store, user, namespace, rules)
    if gaps:
        groups = _quoted(list(user.groups))
        raise ApiError.forbidden(f"{plural}.{RBAC}", name, f'user "{user.name}" (groups={groups}) is attempting to '
                                 "grant RBAC permissions not currently held:\n" + "\n".join(gaps))
