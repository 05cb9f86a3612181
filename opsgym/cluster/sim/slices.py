"""EndpointSlices (``discovery.k8s.io/v1``), mirrored from the Endpoints the endpoints controller computes.

kubectl 1.32 reads a Service's backends from its EndpointSlices, not its Endpoints (``kubectl describe svc`` lists
``endpointslices?labelSelector=kubernetes.io/service-name=NAME``), so without them every Service would describe as
``Endpoints: <none>``, the very symptom an agent looks for. One slice per group of pods that resolve the Service's
ports alike (one per Endpoints subset), and one empty placeholder for a Service with no backends, as the
EndpointSlice controller keeps. Names are the Service's name and a suffix derived from its uid, so a seeded cluster
stays deterministic.
"""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["MANAGED_BY", "SERVICE_NAME", "endpoint_slices"]

Obj = dict[str, Any]

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet


def _suffix(uid: str, index: int) -> str:
    digest = hashlib.sha256(f"{uid}/{index}".encode()).digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:5])


def _endpoint(address: Obj, ready: bool) -> Obj:
    out: Obj = {"addresses": [address["ip"]], "conditions": {"ready": ready, "serving": ready, "terminating": False}}
    if address.get("nodeName"):
        out["nodeName"] = address["nodeName"]
    if address.get("targetRef"):
        out["targetRef"] = address["targetRef"]
    return out


def endpoint_slices(svc: Obj, subsets: list[Obj]) -> list[Obj]:
    """The slices a Service with these Endpoints subsets has (at least one: a placeholder when there are none)."""
    meta = svc["metadata"]
    labels = {**(meta.get("labels") or {}), SERVICE_NAME: meta["name"], MANAGED_BY: "endpointslice-controller.k8s.io"}
    owner = {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta["uid"], "controller": True,
             "blockOwnerDeletion": True}
    slices = []
    for index, subset in enumerate(subsets or [{}]):
        endpoints = [_endpoint(a, True) for a in subset.get("addresses") or []]
        endpoints += [_endpoint(a, False) for a in subset.get("notReadyAddresses") or []]
        body: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                     "metadata": {"name": f"{meta['name']}-{_suffix(meta['uid'], index)}",
                                  "generateName": f"{meta['name']}-", "labels": labels, "ownerReferences": [owner]},
                     "addressType": "IPv4", "endpoints": endpoints}
        if "ports" in subset:
            body["ports"] = [{"name": p.get("name", ""), "port": p["port"], "protocol": p["protocol"]}
                             for p in subset["ports"]]
        slices.append(body)
    return slices
