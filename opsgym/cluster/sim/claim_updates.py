"""What an update of a PersistentVolumeClaim may change, as kube-apiserver 1.32's ValidatePersistentVolumeClaimUpdate
decides it: the spec is immutable after creation, except ``volumeName`` while it is unset (the binder sets it) and,
for a bound claim, ``resources.requests.storage`` (an expansion) and ``volumeAttributesClassName``; and whether the
PersistentVolumeClaimResize admission plugin lets the claim grow (:func:`check_resize`).

The refusal carries the difference the API server prints with go-cmp (``core.PersistentVolumeClaimSpec{...}``,
two unchanged fields of context, the rest elided), so ``kubectl apply`` of a changed claim reads as on kind: the
fix for a claim that names the wrong StorageClass is a new claim, not a patch.
"""

from __future__ import annotations

import copy
import json
from typing import Any, Protocol

from opsgym.cluster.sim.status import ApiError, FieldError
from opsgym.k8s.quantity import quantity_or

__all__ = ["UPDATE_ERRORS", "check_resize", "claim_update_errors"]

Obj = dict[str, Any]


class Objects(Protocol):
    def get(self, plural: str, namespace: str, name: str) -> Obj | None: ...

FIELDS = (("accessModes", "AccessModes"), ("selector", "Selector"), ("resources", "Resources"),
          ("volumeName", "VolumeName"), ("storageClassName", "StorageClassName"), ("volumeMode", "VolumeMode"),
          ("dataSource", "DataSource"), ("dataSourceRef", "DataSourceRef"),
          ("volumeAttributesClassName", "VolumeAttributesClassName"))
"""core.PersistentVolumeClaimSpec's fields in Go order: JSON name, Go name."""
POINTERS = {"selector", "storageClassName", "volumeMode", "dataSource", "dataSourceRef", "volumeAttributesClassName"}
CONTEXT = 2
IMMUTABLE = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"


def _storage(spec: Obj) -> float:
    return quantity_or(((spec.get("resources") or {}).get("requests") or {}).get("storage"), 0.0)


def _semantic(value: Any, quantities: bool = False) -> Any:
    """A field's value as apimachinery's semantic equality sees it: empty lists and maps are nil, and quantities
    (under ``resources``) equal by amount, so ``1Gi`` is ``1024Mi``."""
    if isinstance(value, dict):
        kept = {k: _semantic(v, quantities) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None} or None
    if isinstance(value, list):
        return [_semantic(v) for v in value] or None
    return quantity_or(value, value) if quantities and isinstance(value, str | int | float) else value


def _differs(old: Obj, new: Obj, key: str) -> bool:
    quantities = key == "resources"
    return bool(_semantic(old.get(key), quantities) != _semantic(new.get(key), quantities))


def _quantity(text: Any) -> str:
    value = str(text)
    kind = "BinarySI" if value[-2:] in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei") else \
        "DecimalExponent" if "e" in value.lower().lstrip("0123456789.+-")[:1] else "DecimalSI"
    return f'{{i: {{...}}, s: {json.dumps(value)}, Format: "{kind}"}}'


def _go(name: str, value: Any) -> str:
    """``value`` roughly as go-cmp prints the Go field (strings quoted, pointers with ``&``, nil)."""
    if value is None:
        return '""' if name == "volumeName" else "nil"
    if name == "resources":
        parts = [f"{key.capitalize()}: {{{', '.join(f's{json.dumps(k)}: {_quantity(v)}' for k, v in entries.items())}}}"
                 for key, entries in value.items() if isinstance(entries, dict)]
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(json.dumps(v) for v in value) + "}"
    if isinstance(value, dict):
        inner = ", ".join(f"{k[:1].upper()}{k[1:]}: {json.dumps(v)}" for k, v in value.items())
        return ("&" if name in POINTERS else "") + "{" + inner + "}"
    return ("&" if name in POINTERS else "") + json.dumps(value)


def _diff(old: Obj, new: Obj) -> str:
    """go-cmp's report of two claim specs: changed fields as -/+ lines, two unchanged ones around each."""
    changed = [_differs(old, new, key) for key, _ in FIELDS]
    shown = [any(changed[max(0, i - CONTEXT):i + CONTEXT + 1]) for i in range(len(FIELDS))]
    width = max(len(go) for (_, go), show in zip(FIELDS, shown, strict=True) if show) + 2
    lines, skipped = ["  core.PersistentVolumeClaimSpec{"], 0

    def elide() -> None:
        nonlocal skipped
        if skipped:
            lines.append(f"  \t... // {skipped} identical field{'s' if skipped > 1 else ''}")
            skipped = 0

    for (key, go), change, show in zip(FIELDS, changed, shown, strict=True):
        if not show:
            skipped += 1
            continue
        elide()
        label = f"{go}:".ljust(width)
        if change:
            lines += [f"- \t{label}{_go(key, old.get(key))},", f"+ \t{label}{_go(key, new.get(key))},"]
        else:
            lines.append(f"  \t{label}{_go(key, old.get(key))},")
    elide()
    return "\n".join([*lines, "  }", ""])


def claim_update_errors(new: Obj, old: Obj) -> list[FieldError]:
    """Why an update of claim ``old`` to ``new`` is refused (empty: allowed)."""
    old_spec, new_spec = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(new.get("spec") or {})
    if not old_spec.get("volumeName"):  # the binder sets it once
        old_spec["volumeName"] = new_spec.get("volumeName")
    status = old.get("status") or {}
    bound = status.get("phase") == "Bound"
    if bound:
        old_spec["volumeAttributesClassName"] = new_spec.get("volumeAttributesClassName")
        requests = (new_spec.get("resources") or {}).get("requests")
        if isinstance(requests, dict):
            requests.pop("storage", None)
            old_requests = (old_spec.get("resources") or {}).get("requests") or {}
            if "storage" in old_requests:
                requests["storage"] = old_requests["storage"]
    errors = []
    if any(_differs(old_spec, new_spec, key) for key, _ in FIELDS):
        errors.append(FieldError("spec", "Forbidden", f"{IMMUTABLE}\n{_diff(old_spec, new_spec)}"))
    new_size, old_size = _storage(new.get("spec") or {}), _storage(old.get("spec") or {})
    if new_size < old_size and new_size <= quantity_or((status.get("capacity") or {}).get("storage"), 0.0):
        errors.append(FieldError("spec.resources.requests.storage", "Forbidden",
                                 "field can not be less than status.capacity"))
    mode = (new.get("spec") or {}).get("volumeMode")
    if mode != (old.get("spec") or {}).get("volumeMode"):
        errors.append(FieldError("volumeMode", "Invalid", "field is immutable", mode))
    return errors


UPDATE_ERRORS = {"persistentvolumeclaims": claim_update_errors}
"""Update validation of the storage kinds, by plural (the API server's ValidateXUpdate)."""


def check_resize(store: Objects, plural: str, new: Obj, old: Obj) -> None:
    """The PersistentVolumeClaimResize admission plugin: a claim grows only when bound and its StorageClass says
    ``allowVolumeExpansion: true`` (kind's ``standard`` does not).

    Raises:
        ApiError: 403, worded as the plugin's refusal.
    """
    if plural != "persistentvolumeclaims" or _storage(new.get("spec") or {}) <= _storage(old.get("spec") or {}):
        return
    name = str(new["metadata"].get("name", ""))
    if (old.get("status") or {}).get("phase") != "Bound":
        raise ApiError.forbidden(plural, name, "Only bound persistent volume claims can be expanded")
    sc = store.get("storageclasses", "", str((new.get("spec") or {}).get("storageClassName") or ""))
    if not (sc or {}).get("allowVolumeExpansion"):
        raise ApiError.forbidden(plural, name, "only dynamically provisioned pvc can be resized and the storageclass "
                                 "that provisions the pvc must support resize")
