"""The HorizontalPodAutoscaler's API surface: ``autoscaling/v2`` defaulting and validation, ``kubectl get hpa``'s
columns, and quantities printed as apimachinery prints them. The controller that acts on these objects is
:mod:`opsgym.cluster.sim.autoscaler`; this module imports nothing of the simulator but its error types, so the API
server's defaulting and printing can use it without pulling in the controller.
"""

from __future__ import annotations

import math
from typing import Any

from opsgym.cluster.sim.status import FieldError
from opsgym.k8s.quantity import quantity_or

__all__ = ["hpa_cells", "hpa_defaults", "hpa_errors", "milli", "milli_quantity"]

Obj = dict[str, Any]


def milli_quantity(milli: int) -> str:
    """``resource.NewMilliQuantity(milli, DecimalSI).String()``: ``250m``, ``3``, ``2k``, ``31457280``."""
    if milli % 1000:
        return f"{milli}m"
    value, suffix = milli // 1000, ""
    for next_suffix in ("k", "M", "G", "T", "P", "E"):
        if value == 0 or value % 1000:
            break
        value, suffix = value // 1000, next_suffix
    return f"{value}{suffix}"


def milli(value: Any) -> int:
    """A quantity's MilliValue (rounded up, as apimachinery does)."""
    return math.ceil(quantity_or(value, 0.0) * 1000)


def hpa_defaults(obj: Obj) -> None:
    """autoscaling/v2 defaulting: minReplicas 1, a CPU 80 % target when no metric is given, behavior rules filled in."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        up = behavior.setdefault("scaleUp", {})
        up.setdefault("stabilizationWindowSeconds", 0)
        up.setdefault("selectPolicy", "Max")
        up.setdefault("policies", [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                   {"type": "Percent", "value": 100, "periodSeconds": 15}])
        down = behavior.setdefault("scaleDown", {})
        down.setdefault("selectPolicy", "Max")
        down.setdefault("policies", [{"type": "Percent", "value": 100, "periodSeconds": 15}])


def hpa_errors(obj: Obj) -> list[FieldError]:
    """The validation the controller's arithmetic relies on, worded as the API server's."""
    spec, errors = obj.get("spec") or {}, []
    ref = spec.get("scaleTargetRef") or {}
    for key in ("kind", "name"):
        if not ref.get(key):
            errors.append(FieldError(f"spec.scaleTargetRef.{key}", "Required", ""))
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas", 0)
    if low < 1:
        errors.append(FieldError("spec.minReplicas", "Invalid", "must be greater than or equal to 1", low))
    if not isinstance(high, int) or high < 1:
        errors.append(FieldError("spec.maxReplicas", "Invalid", "must be greater than or equal to 1", high))
    elif high < low:
        errors.append(FieldError("spec.maxReplicas", "Invalid", "must be greater than or equal to `minReplicas`",
                                 high))
    for i, metric in enumerate(spec.get("metrics") or []):
        where = f"spec.metrics[{i}]"
        kind = metric.get("type")
        if kind not in ("Resource", "Pods", "Object", "External", "ContainerResource"):
            errors.append(FieldError(f"{where}.type", "Unsupported", 'supported values: "ContainerResource", '
                                     '"External", "Object", "Pods", "Resource"', kind))
            continue
        source = metric.get(kind[0].lower() + kind[1:]) or {}
        target = source.get("target") or {}
        if not source:
            errors.append(FieldError(f"{where}.{kind[0].lower() + kind[1:]}", "Required",
                                     f"must populate information for the given metric source (type {kind})"))
        elif target.get("type") not in ("Utilization", "Value", "AverageValue"):
            errors.append(FieldError(f"{where}.{kind[0].lower() + kind[1:]}.target.type", "Required",
                                     "must specify a metric target type"))
        elif target.get("averageUtilization") is not None and target["averageUtilization"] < 1:
            errors.append(FieldError(f"{where}.resource.target.averageUtilization", "Invalid",
                                     "must be greater than 0", target["averageUtilization"]))
    return errors


def hpa_cells(obj: Obj) -> list[Any]:
    """``kubectl get hpa``'s REFERENCE, TARGETS, MINPODS, MAXPODS and REPLICAS (kube's printHorizontalPodAutoscaler)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    minimum = spec.get("minReplicas")
    return [f"{ref.get('kind', '')}/{ref.get('name', '')}", _targets(spec.get("metrics") or [],
            status.get("currentMetrics") or []), "<unset>" if minimum is None else str(minimum),
            spec.get("maxReplicas", 0), status.get("currentReplicas", 0)]


def _targets(specs: list[Obj], statuses: list[Obj]) -> str:
    if not specs:
        return "<none>"
    shown = []
    for i, metric in enumerate(specs):
        kind = metric.get("type", "")
        key = kind[:1].lower() + kind[1:]
        source, target = metric.get(key) or {}, (metric.get(key) or {}).get("target") or {}
        current = ((statuses[i].get(key) or {}).get("current") or {}) if i < len(statuses) else {}
        if kind in ("Resource", "ContainerResource"):
            if target.get("averageValue") is not None:
                now = current.get("averageValue") or "<unknown>"
                shown.append(f"{source.get('name')}: {now}/{target['averageValue']}")
            else:
                now = f"{current['averageUtilization']}%" if current.get("averageUtilization") is not None \
                    else "<unknown>"
                want = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None \
                    else "<auto>"
                shown.append(f"{source.get('name')}: {now}/{want}")
        elif kind in ("Pods", "Object", "External"):
            value = target.get("averageValue") or target.get("value")
            now = current.get("averageValue") or current.get("value") or "<unknown>"
            average = " (avg)" if kind != "Pods" and target.get("averageValue") is not None else ""
            shown.append(f"{now}/{value}{average}")
        else:
            shown.append("<unknown type>")
    text = ", ".join(shown[:2])
    return f"{text} + {len(shown) - 2} more..." if len(shown) > 2 else text
