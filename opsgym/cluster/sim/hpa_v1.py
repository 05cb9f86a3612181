"""``autoscaling/v1`` HorizontalPodAutoscalers, served by converting to and from the stored ``autoscaling/v2``.

kubectl 1.32's ``kubectl autoscale`` writes an ``autoscaling/v1`` object (``targetCPUUtilizationPercentage``), and
``--dry-run=client -o yaml`` prints one, so the API server must accept and serve that version too. As
kube-apiserver does, one object is stored and each version is a view of it: the CPU utilization target is the v1
field, and what v1 cannot say (other metrics, ``behavior``, conditions, current metrics) travels in the
``autoscaling.alpha.kubernetes.io/*`` annotations, so a read-modify-write through v1 (``kubectl apply`` of a v1
manifest) keeps it. A request is turned into the v2 request (a PATCH is applied to the v1 view and sent as an update)
and the answer turned back; a watch streams the stored v2 objects.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.patch import PATCH_TYPES, apply_patch
from opsgym.cluster.sim.status import ApiError

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["PREFIX", "add_version", "resource_list", "route", "to_v1", "to_v2"]

PREFIX = ["apis", "autoscaling", "v1"]
V1, V2 = "autoscaling/v1", "autoscaling/v2"
PLURAL = "horizontalpodautoscalers"
NOTES = {"metrics": "autoscaling.alpha.kubernetes.io/metrics", "behavior": "autoscaling.alpha.kubernetes.io/behavior",
         "conditions": "autoscaling.alpha.kubernetes.io/conditions",
         "currentMetrics": "autoscaling.alpha.kubernetes.io/current-metrics"}
Obj = dict[str, Any]


def resource_list() -> Obj:
    """``/apis/autoscaling/v1``."""
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": V1, "resources": [
        {"name": PLURAL, "singularName": "horizontalpodautoscaler", "namespaced": True,
         "kind": "HorizontalPodAutoscaler", "verbs": ["create", "delete", "deletecollection", "get", "list", "patch",
                                                      "update", "watch"],
         "shortNames": ["hpa"], "categories": ["all"], "storageVersionHash": "oQlkt7f5j/A="},
        {"name": f"{PLURAL}/status", "singularName": "", "namespaced": True, "kind": "HorizontalPodAutoscaler",
         "verbs": ["get", "patch", "update"]}]}


def _is_cpu_utilization(metric: Obj) -> bool:
    resource = metric.get("resource") or {}
    return metric.get("type") == "Resource" and resource.get("name") == "cpu" and \
        (resource.get("target") or {}).get("type") == "Utilization"


def to_v1(obj: Obj) -> Obj:
    """The v1 view of a stored v2 HPA."""
    v1 = copy.deepcopy(obj)
    v1["apiVersion"] = V1
    spec, status = v1.get("spec") or {}, v1.get("status") or {}
    annotations = dict(v1["metadata"].get("annotations") or {})
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[NOTES["metrics"]] = json.dumps(others, separators=(",", ":"))
    if spec.get("behavior"):
        annotations[NOTES["behavior"]] = json.dumps(spec.pop("behavior"), separators=(",", ":"))
    for key in ("conditions", "currentMetrics"):
        if status.get(key):
            annotations[NOTES[key]] = json.dumps(status.pop(key), separators=(",", ":"))
    current = next((m for m in obj.get("status", {}).get("currentMetrics") or []
                    if (m.get("resource") or {}).get("name") == "cpu"), None)
    if current is not None and (current["resource"].get("current") or {}).get("averageUtilization") is not None:
        status["currentCPUUtilizationPercentage"] = current["resource"]["current"]["averageUtilization"]
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    v1["status"] = status
    if annotations:
        v1["metadata"]["annotations"] = annotations
    return v1


def to_v2(obj: Obj) -> Obj:
    """The v2 object a v1 body describes (status is the server's, so a client's is dropped)."""
    v2 = copy.deepcopy(obj)
    v2["apiVersion"] = V2
    meta = v2.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = v2.setdefault("spec", {})
    metrics = json.loads(annotations.pop(NOTES["metrics"], "[]"))
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    if metrics:
        spec["metrics"] = metrics
    if NOTES["behavior"] in annotations:
        spec["behavior"] = json.loads(annotations.pop(NOTES["behavior"]))
    for key in ("conditions", "currentMetrics"):
        annotations.pop(NOTES[key], None)
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    v2.pop("status", None)
    return v2


def _outgoing(body: Any) -> Any:
    if isinstance(body, dict) and body.get("kind") == "HorizontalPodAutoscaler":
        return to_v1(body)
    if isinstance(body, dict) and body.get("kind") == "HorizontalPodAutoscalerList":
        return dict(body, apiVersion=V1, items=[to_v1(i) for i in body.get("items") or []])
    return body


def route(engine: Engine, call: Any, resource: Callable[[Engine, Any], Any],
          decode: Callable[[Any, str], Any]) -> Any:
    """Answer a ``/apis/autoscaling/v1/...`` request through ``resource`` (the v2 router) and convert both ways.

    ``call`` is a routes ``Call``; ``decode`` is the router's body decoder (JSON, YAML or protobuf).

    Raises:
        ApiError: a body that is not an object, or a failed patch, as the v2 router would answer.
    """
    rest = call.segments[3:]
    segments = ["apis", "autoscaling", "v2", *rest]
    if not rest or (rest[-1] != PLURAL and PLURAL not in rest):
        raise ApiError.path_not_found()
    changes: dict[str, Any] = {"segments": segments}
    if call.method in ("POST", "PUT", "PATCH") and call.body.strip():
        body = decode(call, "HorizontalPodAutoscaler")
        if call.method == "PATCH":
            kind = PATCH_TYPES.get(call.content_type.split(";")[0].strip().lower())
            namespace, name = (rest[1], rest[3]) if len(rest) >= 4 else ("", "")
            old = engine.store.get(PLURAL, namespace, name)
            if kind is None or old is None:  # the v2 router answers the 415 or the NotFound
                return resource(engine, dataclasses.replace(call, segments=segments))
            body = apply_patch(kind, to_v1(old), body)
            changes["method"] = "PUT"
        if not isinstance(body, dict):
            raise ApiError.bad_request("the body of the request must be a JSON object")
        changes |= {"body": json.dumps(to_v2(body)).encode(), "content_type": "application/json"}
    reply = resource(engine, dataclasses.replace(call, **changes))
    if hasattr(reply, "body"):
        reply.body = _outgoing(reply.body)
    return reply


def add_version(groups: list[Obj]) -> None:
    """List ``v1`` after the preferred ``v2`` in the ``autoscaling`` entry of ``/apis``."""
    for entry in groups:
        if entry["name"] == "autoscaling":
            entry["versions"].append({"groupVersion": V1, "version": "v1"})
