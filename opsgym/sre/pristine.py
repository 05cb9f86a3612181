"""The faulty workload must still be the workload the task started with, except for the fields under repair.

A crash loop also goes away when the container runs another program, ignores its settings or talks to another
dependency, so the end state's pod template and the ConfigMaps and Secrets it reads are compared with what the
episode loaded. Only the task's ``repairable`` fields may differ (they held the fault, so the loaded objects equal the
pristine ones everywhere else), plus what the API server and kubectl add on their own: defaulted fields and the
``restartedAt`` annotation of ``kubectl rollout restart``. Whether a repaired value is *right* is left to the
programs (the request flow), never to a list kept here.
"""

from __future__ import annotations

import copy
from typing import Any

from opsgym.cluster.sim.defaults import apply_defaults
from opsgym.cluster.sim.kinds import lookup
from opsgym.k8s.kinds import kind_named
from opsgym.sre.paths import remove_path

__all__ = ["TOLERATED", "compared", "differences", "referenced"]

TOLERATED = ('spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]',)
"""Template fields that change without changing the workload (``kubectl rollout restart`` stamps this one)."""
SECTIONS = {"Deployment": ("spec",), "ConfigMap": ("data", "binaryData"), "Secret": ("data",)}
"""The parts of each kind that decide what the workload runs (metadata, status and replicas are judged elsewhere)."""
OTHER_SECTIONS = ("spec", "data")
"""What is compared of any other kind (a NetworkPolicy, a PVC, an HPA …): fields the API server fills in on its own
(a Service's clusterIP, a claim's volumeName) may appear, but every field of the pristine object must stay."""
_MISSING = object()


def compared(kind: str, obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of ``obj`` that is compared: a Deployment's pod template, a ConfigMap's or Secret's data, any other
    kind's spec and data."""
    if obj is None:
        return None
    if kind == "Deployment":
        return {"spec": {"template": copy.deepcopy((obj.get("spec") or {}).get("template") or {})}}
    return {key: copy.deepcopy(obj[key]) for key in SECTIONS.get(kind, OTHER_SECTIONS) if obj.get(key)}


def _defaulted(kind: str, part: dict[str, Any]) -> dict[str, Any]:
    """``part`` with the API server's defaults filled in (what a live object shows for the same manifest)."""
    obj = {"metadata": {}, **copy.deepcopy(part)}
    apply_defaults(lookup(kind_named(kind).plural), obj)
    return {key: obj[key] for key in part if key in obj}


def referenced(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """``(kind, name)`` of every ConfigMap and Secret the Deployment's pod template reads."""
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    found: list[tuple[str, str]] = []
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for source in container.get("envFrom") or []:
            found += [("ConfigMap", source["configMapRef"].get("name", ""))] if source.get("configMapRef") else []
            found += [("Secret", source["secretRef"].get("name", ""))] if source.get("secretRef") else []
        for var in container.get("env") or []:
            ref = var.get("valueFrom") or {}
            found += [("ConfigMap", ref["configMapKeyRef"].get("name", ""))] if ref.get("configMapKeyRef") else []
            found += [("Secret", ref["secretKeyRef"].get("name", ""))] if ref.get("secretKeyRef") else []
    for volume in spec.get("volumes") or []:
        found += [("ConfigMap", volume["configMap"].get("name", ""))] if volume.get("configMap") else []
        found += [("Secret", volume["secret"].get("secretName", ""))] if volume.get("secret") else []
    return list(dict.fromkeys(found))


def _label(item: Any, index: int) -> str:
    return f"[name={item['name']}]" if isinstance(item, dict) and "name" in item else f"[{index}]"


def _diff(live: Any, loaded: Any, default: Any, path: str, strict: bool = True) -> list[str]:
    if isinstance(loaded, dict):
        if not isinstance(live, dict):
            return [path]
        default = default if isinstance(default, dict) else {}
        out: list[str] = []
        for key in sorted(set(live) | set(loaded), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key in loaded:
                out += _diff(live.get(key, _MISSING), loaded[key], default.get(key), where, strict)
            elif strict and live[key] not in ({}, [], None) and live[key] != default.get(key, _MISSING):
                # only a default (or an emptied map, such as annotations after a tolerated one) may appear on its own
                out.append(where)
        return out
    if isinstance(loaded, list):
        if not isinstance(live, list) or len(live) != len(loaded):
            return [path]
        defaults = default if isinstance(default, list) and len(default) == len(loaded) else [None] * len(loaded)
        return [d for i, (a, b, c) in enumerate(zip(live, loaded, defaults, strict=True))
                for d in _diff(a, b, c, path + _label(b, i), strict)]
    return [] if live == loaded or live == default else [path]


def differences(kind: str, live: dict[str, Any] | None, loaded: dict[str, Any], repairable: list[str], *,
                tolerate: bool = True) -> list[str]:
    """Paths where the live object differs from the pristine one, outside ``repairable`` and the tolerated fields.

    Args:
        kind: any kind; a Deployment, ConfigMap or Secret must match exactly, other kinds may show more fields.
        live: the object as the API shows it now (None: it is gone).
        loaded: the object as the episode loaded it.
        repairable: paths (as in fault patches) that a fix may change or remove.
        tolerate: let the fields that change without changing the workload differ (``TOLERATED``); a no-fault
            control does not, as a restart is an action a false alarm did not warrant.
    """
    if live is None:
        return ["(deleted)"]
    have, want = compared(kind, live) or {}, compared(kind, loaded) or {}
    for path in (*repairable, *(TOLERATED if kind == "Deployment" and tolerate else ())):
        remove_path(have, path)
        remove_path(want, path)
    return _diff(have, want, _defaulted(kind, want), "", strict=kind in SECTIONS)
