"""The candidate entities of an SRE episode: every name an answer could blame, for the scoring's entity precision.

An answer that names every service, ConfigMap and key of the app must not earn the credit of the one at fault
(:mod:`opsgym.scoring.precision`). The scoring cannot know what an app holds; the scenario does, so it lists the
names of the objects it loaded into ``outcome.extra["entities"]``: object names, container names, env variable
names and the keys of ConfigMaps and Secrets — never a value.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["entity_names"]

DATA_KINDS = ("ConfigMap", "Secret")


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for key in ("containers", "initContainers") for c in pod.get(key) or [] if isinstance(c, dict)]


def entity_names(objects: Iterable[dict[str, Any]], *, skip_data_of: Iterable[str] = ()) -> list[str]:
    """The names in ``objects`` (sorted, each once). ``skip_data_of`` names ConfigMaps whose keys are not settings
    (the app's programs, keyed by file name)."""
    skip = set(skip_data_of)
    names: set[str] = set()
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "Namespace" or not meta.get("name"):
            continue
        names.add(str(meta["name"]))
        if obj.get("kind") in DATA_KINDS and meta["name"] not in skip:
            names.update(str(k) for k in (obj.get("data") or {}))
        for container in _containers(obj):
            names.add(str(container.get("name") or ""))
            names.update(str(e.get("name") or "") for e in container.get("env") or [] if isinstance(e, dict))
    return sorted(n for n in names if n)
