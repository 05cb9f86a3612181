"""The storage kinds as the API server and kubectl see them: kind's default StorageClass, create-time admission
(the default class, protection finalizers), field defaults and validation, and the ``kubectl get`` columns.

The controllers that act on these objects are in :mod:`opsgym.cluster.sim.storage`.
"""

from __future__ import annotations

import random
import uuid
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.clock import human_duration, parse_time
from opsgym.cluster.sim.status import FieldError
from opsgym.k8s.quantity import quantity_or

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["DEFAULTS", "ERRORS", "LOCAL_PATH", "PRINTERS", "PVC_PROTECTION", "PV_PROTECTION", "admit",
           "bootstrap_storage", "claim_class", "is_default_class", "storage_size"]

Obj = dict[str, Any]
LOCAL_PATH = "rancher.io/local-path"
DEFAULT_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                       "storageclass.beta.kubernetes.io/is-default-class")
PVC_PROTECTION, PV_PROTECTION = "kubernetes.io/pvc-protection", "kubernetes.io/pv-protection"
MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))


def access_modes_text(modes: list[str] | None) -> str:
    """``RWO,RWX``: kubectl's short form, in the API's order whatever the object's order."""
    return ",".join(short for mode, short in MODES if mode in (modes or []))


def is_default_class(sc: Obj) -> bool:
    annotations = sc["metadata"].get("annotations") or {}
    return any(annotations.get(key) == "true" for key in DEFAULT_ANNOTATIONS)


def claim_class(claim: Obj) -> str:
    """The claim's class: ``spec.storageClassName``, else the beta annotation, else "" (no class)."""
    spec = claim.get("spec") or {}
    if spec.get("storageClassName") is not None:
        return str(spec["storageClassName"])
    return str((claim["metadata"].get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class", ""))


def storage_size(obj_resources: Obj | None) -> float:
    """The ``storage`` entry of a capacity or requests map, in bytes (0 when absent or unreadable)."""
    return quantity_or(((obj_resources or {}).get("storage")), 0.0)


def bootstrap_storage(engine: Engine) -> None:
    """kind's default class ``standard``. Its uid comes from its own generator so that every uid and pod name the
    engine's generator hands out afterwards is the one it handed out before storage existed."""
    uid = str(uuid.UUID(int=random.Random(f"storageclass/{engine.seed}").getrandbits(128), version=4))
    engine.store.put("storageclasses", {
        "kind": "StorageClass", "apiVersion": "storage.k8s.io/v1",
        "metadata": {"name": "standard", "uid": uid, "creationTimestamp": engine.stamp(),
                     "annotations": {DEFAULT_ANNOTATIONS[0]: "true"}},
        "provisioner": LOCAL_PATH, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"})


def admit(engine: Engine, plural: str, obj: Obj) -> None:
    """Create-time admission for storage kinds: the DefaultStorageClass plugin (a claim without
    ``storageClassName`` gets the default class, the newest if several are marked; an explicit "" stays ""), the
    StorageObjectInUseProtection finalizers, and the ``Pending`` status a new claim or volume starts in."""
    if plural not in ("persistentvolumeclaims", "persistentvolumes"):
        return
    meta, spec = obj["metadata"], obj.setdefault("spec", {})
    protection = PVC_PROTECTION if plural == "persistentvolumeclaims" else PV_PROTECTION
    meta["finalizers"] = [*(f for f in meta.get("finalizers") or [] if f != protection), protection]
    obj["status"] = {"phase": "Pending"}
    if plural == "persistentvolumes":
        obj["status"]["lastPhaseTransitionTime"] = engine.stamp()
        return
    if spec.get("storageClassName") is not None or \
            "volume.beta.kubernetes.io/storage-class" in (meta.get("annotations") or {}):
        return
    defaults = [sc for sc in engine.store.items("storageclasses") if is_default_class(sc)]
    if defaults:
        newest = max(defaults, key=lambda sc: (sc["metadata"].get("creationTimestamp", ""), sc["metadata"]["name"]))
        spec["storageClassName"] = newest["metadata"]["name"]


def _default_claim(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


def _default_volume(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")


def _default_class(obj: Obj) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _claim_errors(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = _mode_errors(spec.get("accessModes"), "spec.accessModes", "at least 1 access mode is required")
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        errors.append(FieldError("spec.resources[storage]", "Required", ""))
    elif storage_size(requests) <= 0:
        errors.append(FieldError("spec.resources[storage]", "Invalid", "must be greater than zero",
                                 requests["storage"]))
    return errors


def _volume_errors(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors = _mode_errors(spec.get("accessModes"), "spec.accessModes", "")
    if not spec.get("capacity"):
        errors.append(FieldError("spec.capacity", "Required", ""))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy not in ("Delete", "Recycle", "Retain"):
        errors.append(FieldError("spec.persistentVolumeReclaimPolicy", "Unsupported",
                                 'supported values: "Delete", "Recycle", "Retain"', policy))
    known = {"capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName",
             "mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName"}
    if not set(spec) - known:
        errors.append(FieldError("spec", "Required", "must specify a volume type"))
    return errors


def _mode_errors(modes: list[str] | None, where: str, required: str) -> list[FieldError]:
    if not modes:
        return [FieldError(where, "Required", required)]
    supported = sorted(mode for mode, _ in MODES)
    return [FieldError(where, "Unsupported", "supported values: " + ", ".join(f'"{m}"' for m in supported), mode)
            for mode in modes if mode not in supported]


ERRORS = {"persistentvolumeclaims": _claim_errors, "persistentvolumes": _volume_errors}
"""Field validation of claims and volumes, worded as the API server's."""

DEFAULTS = {"persistentvolumeclaims": _default_claim, "persistentvolumes": _default_volume,
            "storageclasses": _default_class}
"""Field defaults of the storage kinds (the API server's SetDefaults), by plural."""


# ---------------------------------------------------------------------------------------------------- printing
def _age(obj: Obj, now: float) -> str:
    when = parse_time(obj["metadata"].get("creationTimestamp"))
    return "<unknown>" if when is None else human_duration(now - when)


def _claim_row(claim: Obj, now: float) -> list[Any]:
    spec, status = claim.get("spec") or {}, claim.get("status") or {}
    bound = bool(spec.get("volumeName"))
    return [claim["metadata"]["name"], "Terminating" if claim["metadata"].get("deletionTimestamp")
            else status.get("phase", ""), spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", "") if bound else "",
            access_modes_text(status.get("accessModes")) if bound else "", claim_class(claim),
            spec.get("volumeAttributesClassName") or "<unset>", _age(claim, now), spec.get("volumeMode") or "<unset>"]


def _volume_row(pv: Obj, now: float) -> list[Any]:
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef")
    return [pv["metadata"]["name"], (spec.get("capacity") or {}).get("storage", "0"),
            access_modes_text(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            "Terminating" if pv["metadata"].get("deletionTimestamp") else status.get("phase", ""),
            f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "", spec.get("storageClassName", ""),
            spec.get("volumeAttributesClassName") or "<unset>", status.get("reason", ""), _age(pv, now),
            spec.get("volumeMode") or "<unset>"]


def _class_row(sc: Obj, now: float) -> list[Any]:
    return [sc["metadata"]["name"] + (" (default)" if is_default_class(sc) else ""), sc.get("provisioner", ""),
            sc.get("reclaimPolicy", "Delete"), sc.get("volumeBindingMode", "Immediate"),
            bool(sc.get("allowVolumeExpansion", False)), _age(sc, now)]


_S = "string"
PRINTERS: dict[str, tuple[list[tuple[str, str, int]], Any]] = {
    "persistentvolumeclaims": ([("Name", _S, 0), ("Status", _S, 0), ("Volume", _S, 0), ("Capacity", _S, 0),
                                ("Access Modes", _S, 0), ("StorageClass", _S, 0), ("VolumeAttributesClass", _S, 0),
                                ("Age", _S, 0), ("VolumeMode", _S, 1)], _claim_row),
    "persistentvolumes": ([("Name", _S, 0), ("Capacity", _S, 0), ("Access Modes", _S, 0), ("Reclaim Policy", _S, 0),
                           ("Status", _S, 0), ("Claim", _S, 0), ("StorageClass", _S, 0),
                           ("VolumeAttributesClass", _S, 0), ("Reason", _S, 0), ("Age", _S, 0),
                           ("VolumeMode", _S, 1)], _volume_row),
    "storageclasses": ([("Name", _S, 0), ("Provisioner", _S, 0), ("ReclaimPolicy", _S, 0),
                        ("VolumeBindingMode", _S, 0), ("AllowVolumeExpansion", _S, 0), ("Age", _S, 0)], _class_row),
}
"""``kubectl get`` columns of the storage kinds, as kube's printers define them."""
