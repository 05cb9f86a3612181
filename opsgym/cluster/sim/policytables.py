"""``kubectl get`` columns of the access-control and admission kinds, as kube-apiserver 1.32 prints them.

Roles, ClusterRoles and LimitRanges show their creation time (``CREATED AT``, not an age); bindings name their role
as ``Role/name``; a ResourceQuota shows ``used/hard`` per resource, ``limits.*`` apart from the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.clock import human_duration, parse_time

__all__ = ["PRINTERS"]

Obj = dict[str, Any]
Printer = tuple[list[tuple[str, str, int]], Callable[[Obj, float], list[Any]]]
_S, _I, _B = "string", "integer", "boolean"


def _age(obj: Obj, now: float) -> str:
    when = parse_time(obj["metadata"].get("creationTimestamp"))
    return "<unknown>" if when is None else human_duration(now - when)


def _created(obj: Obj, now: float) -> list[Any]:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp") or "<unknown>"]


def _binding(obj: Obj, now: float) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []

    def names(kind: str) -> str:
        found = [(f"{s.get('namespace', '')}/{s.get('name', '')}" if kind == "ServiceAccount" else s.get("name", ""))
                 for s in subjects if s.get("kind") == kind]
        return ", ".join(found)

    return [obj["metadata"]["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}", _age(obj, now), names("User"),
            names("Group"), names("ServiceAccount")]


def _quota(obj: Obj, now: float) -> list[Any]:
    status = obj.get("status") or {}
    used, hard = status.get("used") or {}, status.get("hard") or {}
    request: list[str] = []
    limit: list[str] = []
    for key in sorted((obj.get("spec") or {}).get("hard") or {}):
        cell = f"{key}: {used.get(key, '0')}/{hard.get(key, '0')}"
        (limit if key.split(".")[0] == "limits" and "." in key else request).append(cell)
    return [obj["metadata"]["name"], _age(obj, now), ", ".join(request), ", ".join(limit)]


def _priority_class(obj: Obj, now: float) -> list[Any]:
    return [obj["metadata"]["name"], obj.get("value", 0), bool(obj.get("globalDefault")), _age(obj, now),
            obj.get("preemptionPolicy", "")]


_CREATED = [("Name", _S, 0), ("Created At", "date", 0)]
_BOUND = [("Name", _S, 0), ("Role", _S, 0), ("Age", _S, 0), ("Users", _S, 1), ("Groups", _S, 1),
          ("ServiceAccounts", _S, 1)]
PRINTERS: dict[str, Printer] = {
    "roles": (_CREATED, _created),
    "clusterroles": (_CREATED, _created),
    "limitranges": (_CREATED, _created),
    "rolebindings": (_BOUND, _binding),
    "clusterrolebindings": (_BOUND, _binding),
    "resourcequotas": ([("Name", _S, 0), ("Age", _S, 0), ("Request", _S, 0), ("Limit", _S, 0)], _quota),
    "priorityclasses": ([("Name", _S, 0), ("Value", _I, 0), ("Global-Default", _B, 0), ("Age", _S, 0),
                         ("PreemptionPolicy", _S, 0)], _priority_class),
}
