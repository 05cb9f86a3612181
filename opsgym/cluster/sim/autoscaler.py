"""The HorizontalPodAutoscaler controller (``autoscaling/v2``), on the virtual clock.

It follows kube-controller-manager's ``podautoscaler`` package: every HPA is synced every :data:`SYNC_S` seconds (the
first time 15 s after it appears), reads its target through the scale subresource, computes a replica count per
metric from the metrics API's numbers (:mod:`opsgym.cluster.sim.metrics`) with the replica calculator's rules
(tolerance 0.1; pods without metrics assumed at 100 % when scaling down and 0 % when scaling up; unready pods
ignored for CPU), keeps the highest recommendation of the last five minutes before scaling down (or applies
``spec.behavior``: stabilization windows and rate policies), clamps to min/max, scales, and writes the status,
conditions and events with kube's reasons and messages. Only ``Resource`` metrics have a source here; ``Pods``,
``Object`` and ``External`` metrics fail as they do on a cluster without a custom or external metrics adapter.

The controller's memory (recommendations, scale events, next sync) is engine state: saved in snapshots.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.hpa_spec import milli, milli_quantity
from opsgym.cluster.sim.kinds import BY_KIND
from opsgym.cluster.sim.selectors import label_selector
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["Autoscaler"]

SYNC_S = 15.0
TOLERANCE = 0.1
DOWNSCALE_WINDOW_S = 300
CPU_INITIALIZATION_S, READINESS_DELAY_S = 300.0, 30.0
SCALE_UP_FACTOR, SCALE_UP_MINIMUM = 2.0, 4
COMPONENT = "horizontal-pod-autoscaler"
Obj = dict[str, Any]


class MetricError(Exception):
    """A metric that yields no replica count: ``reason`` names the condition, the text is the event's message."""

    def __init__(self, reason: str, message: str, wrapped: str) -> None:
        super().__init__(message)
        self.reason, self.wrapped = reason, wrapped


@dataclass
class HpaMemory:
    """What the controller remembers about one HPA between syncs (kube keeps these maps in memory)."""

    next_sync: float
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    scale_up: list[tuple[float, int]] = field(default_factory=list)
    scale_down: list[tuple[float, int]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------- controller
class Autoscaler:
    """Syncs every HorizontalPodAutoscaler of one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.memory: dict[str, HpaMemory] = {}

    def save(self) -> dict[str, HpaMemory]:
        return copy.deepcopy(self.memory)

    def load(self, memory: dict[str, HpaMemory]) -> None:
        self.memory = copy.deepcopy(memory)

    def next_timer(self) -> float | None:
        """The next sync of any HPA (None without HPAs, so other clusters' timers are unchanged)."""
        now = self.engine.clock.now
        times = [m.next_sync for m in self.memory.values() if m.next_sync > now]
        return min(times) if times else None

    def run(self) -> None:
        now, live = self.engine.clock.now, set()
        for hpa in self.engine.store.items("horizontalpodautoscalers"):
            uid = hpa["metadata"]["uid"]
            live.add(uid)
            memory = self.memory.setdefault(uid, HpaMemory(now + SYNC_S))
            if now >= memory.next_sync and not hpa["metadata"].get("deletionTimestamp"):
                memory.next_sync = now + SYNC_S
                self._sync(hpa, memory, now)
        for uid in [u for u in self.memory if u not in live]:
            del self.memory[uid]

    def _event(self, hpa: Obj, kind: str, reason: str, message: str) -> None:
        self.engine.events.emit(hpa, kind, reason, message, COMPONENT)

    def _sync(self, hpa: Obj, memory: HpaMemory, now: float) -> None:
        status = copy.deepcopy(hpa.get("status") or {})
        conditions: list[Obj] = status.get("conditions") or []

        def condition(kind: str, state: str, reason: str, message: str) -> None:
            old = next((c for c in conditions if c["type"] == kind), None)
            stamp = old["lastTransitionTime"] if old and old["status"] == state else self.engine.stamp()
            entry = {"type": kind, "status": state, "lastTransitionTime": stamp, "reason": reason, "message": message}
            conditions[:] = [entry if c["type"] == kind else c for c in conditions] if old else [*conditions, entry]

        spec, namespace = hpa["spec"], hpa["metadata"]["namespace"]
        ref = spec.get("scaleTargetRef") or {}
        rt = BY_KIND.get((ref.get("apiVersion", ""), ref.get("kind", "")))
        target = self.engine.store.get(rt.plural, namespace, ref.get("name", "")) if rt else None
        if rt is None or "scale" not in rt.subresources or target is None:
            group = ref.get("apiVersion", "").rpartition("/")[0]
            error = f'no matches for kind "{ref.get("kind")}" in group "{group}"' if rt is None or \
                "scale" not in rt.subresources else f'{rt.qualified} "{ref.get("name")}" not found'
            self._event(hpa, "Warning", "FailedGetScale", error)
            condition("AbleToScale", "False", "FailedGetScale",
                      f"the HPA controller was unable to get the target's current scale: {error}")
            return self._write(hpa, status | {"conditions": conditions})
        condition("AbleToScale", "True", "SucceededGetScale",
                  "the HPA controller was able to get the target's current scale")
        scale = self.engine.api.scale(rt, target)
        current = scale["spec"]["replicas"]
        if not memory.recommendations:
            memory.recommendations.append((now, current))
        low, high = spec.get("minReplicas", 1), spec["maxReplicas"]
        metrics: list[Obj] = status.get("currentMetrics") or []
        rescale, reason, desired = True, "", current
        if current == 0 and low != 0:
            rescale, desired = False, 0
            condition("ScalingActive", "False", "ScalingDisabled",
                      "scaling is disabled since the replica count of the target is zero")
        elif current > high:
            reason, desired = "Current number of replicas above Spec.MaxReplicas", high
        elif current < low:
            reason, desired = "Current number of replicas below Spec.MinReplicas", low
        else:
            try:
                proposal, name, metrics = self._replicas(hpa, scale, condition)
            except MetricError as failed:
                self._event(hpa, "Warning", "FailedComputeMetricsReplicas", str(failed))
                return self._write(hpa, status | {"currentReplicas": current, "conditions": conditions})
            if proposal > current:
                reason = f"{name} above target"
            elif proposal < current:
                reason = "All metrics below target"
            desired = self._normalize(spec, memory, current, proposal, low, high, now, condition)
            rescale = desired != current
        if rescale:
            try:
                self.engine.api.update(rt, namespace, target["metadata"]["name"], {"spec": {"replicas": desired}},
                                       subresource="scale")
            except ApiError as exc:
                self._event(hpa, "Warning", "FailedRescale", f"New size: {desired}; reason: {reason}; error: "
                            f"{exc.message}")
                condition("AbleToScale", "False", "FailedUpdateScale",
                          f"the HPA controller was unable to update the target scale: {exc.message}")
                return self._write(hpa, status | {"currentReplicas": current, "conditions": conditions})
            condition("AbleToScale", "True", "SucceededRescale",
                      f"the HPA controller was able to update the target scale to {desired}")
            self._event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            if spec.get("behavior"):
                (memory.scale_up if desired > current else memory.scale_down).append((now, abs(desired - current)))
            status["lastScaleTime"] = self.engine.stamp()
        else:
            desired = current
        status.update(currentReplicas=current, desiredReplicas=desired, conditions=conditions)
        status.pop("currentMetrics", None)
        if metrics:
            status["currentMetrics"] = metrics
        return self._write(hpa, status)

    def _write(self, hpa: Obj, status: Obj) -> None:
        if status != hpa.get("status"):
            self.engine.store.put("horizontalpodautoscalers", revised(hpa, status=status))

    # ------------------------------------------------------------------------------------------------ metrics
    def _replicas(self, hpa: Obj, scale: Obj, condition: Any) -> tuple[int, str, list[Obj]]:
        """The highest replica count any valid metric proposes (kube's computeReplicasForMetrics)."""
        specs = hpa["spec"].get("metrics") or []
        pods = self._pods(hpa["metadata"]["namespace"], scale["status"]["selector"])
        best, name, statuses, failures = 0, "", [], []
        for metric in specs:
            try:
                proposal, label, state = self._metric(metric, pods, scale["spec"]["replicas"])
            except MetricError as failed:
                self._event(hpa, "Warning", failed.reason, str(failed))
                failures.append(failed)
                statuses.append({"type": ""})
                continue
            statuses.append(state)
            if best == 0 or proposal > best:
                best, name = proposal, label
        if len(failures) >= len(specs):
            first = failures[0]
            condition("ScalingActive", "False", first.reason,
                      f"the HPA was unable to compute the replica count: {first}")
            raise MetricError(first.reason, f"invalid metrics ({len(failures)} invalid out of {len(specs)}), first "
                              f"error is: {first.wrapped}", "")
        condition("ScalingActive", "True", "ValidMetricFound",
                  f"the HPA was able to successfully calculate a replica count from {name}")
        return best, name, statuses

    def _pods(self, namespace: str, selector: str) -> list[Obj]:
        matches = label_selector(selector or "")
        return [p for p in self.engine.store.items("pods", namespace) if matches(p)] if selector else []

    def _metric(self, metric: Obj, pods: list[Obj], current: int) -> tuple[int, str, Obj]:
        kind = metric.get("type", "")
        if kind != "Resource":
            key = kind[:1].lower() + kind[1:]
            source = metric.get(key) or {}
            what = (source.get("metric") or {}).get("name") or source.get("name") or ""
            api = "external metrics API (external.metrics.k8s.io)" if kind == "External" \
                else "custom metrics API (custom.metrics.k8s.io)"
            error = f"unable to get metric {what}: unable to fetch metrics from {api.split(' (')[0]}: no {api} " \
                    "registered"
            return self._fail(f"FailedGet{kind}Metric", error, f"failed to get {key} metric value: {error}")
        resource = metric["resource"]
        name, target = resource.get("name", ""), resource.get("target") or {}
        usage = self.engine.metrics.pod_usage()
        values: dict[str, int] = {}
        for pod in pods:
            containers = usage.get(pod["metadata"]["uid"])
            if containers is not None:
                values[pod["metadata"]["name"]] = sum(
                    math.ceil(u.cpu_m) if name == "cpu" else u.memory * 1000 for u in containers.values())
        prefix = f"failed to get {name} utilization: "
        if name not in ("cpu", "memory") or not values:
            error = prefix + f"unable to get metrics for resource {name}: no metrics returned from resource metrics API"
            return self._fail("FailedGetResourceMetric", error, f"failed to get {name} resource metric value: {error}")
        ready, unready, missing = self._group(pods, values, name)
        for waiting in unready:
            values.pop(waiting, None)
        if target.get("averageValue") is not None:
            goal = milli(target["averageValue"])
            average = sum(values.values()) // max(len(values), 1)
            replicas = self._plain(values, {}, unready, missing, current, goal, ready) if values else current
            return replicas, f"{name} resource", {"type": "Resource", "resource": {
                "name": name, "current": {"averageValue": milli_quantity(average)}}}
        requests: dict[str, int] = {}
        for pod in pods:
            for container in (pod.get("spec") or {}).get("containers") or []:
                request = ((container.get("resources") or {}).get("requests") or {}).get(name)
                if request is None:
                    error = prefix + f"missing request for {name} in container {container['name']} of Pod " \
                                     f"{pod['metadata']['name']}"
                    return self._fail("FailedGetResourceMetric", error,
                                      f"failed to get {name} resource metric value: {error}")
                requests[pod["metadata"]["name"]] = requests.get(pod["metadata"]["name"], 0) + milli(request)
        if not values:
            error = prefix + "did not receive metrics for targeted pods (pods might be unready)"
            return self._fail("FailedGetResourceMetric", error, f"failed to get {name} resource metric value: {error}")
        known = [p for p in values if p in requests]
        utilization = sum(values[p] for p in known) * 100 // max(sum(requests[p] for p in known), 1)
        goal = int(target.get("averageUtilization") or 80)
        replicas = self._plain({p: values[p] for p in known}, requests, unready, missing, current, goal, ready)
        return replicas, f"{name} resource utilization (percentage of request)", {"type": "Resource", "resource": {
            "name": name, "current": {"averageUtilization": utilization,
                                      "averageValue": milli_quantity(sum(values.values()) // len(values))}}}

    @staticmethod
    def _fail(reason: str, message: str, wrapped: str) -> Any:
        raise MetricError(reason, message, wrapped)

    def _group(self, pods: list[Obj], values: dict[str, int], resource: str) -> tuple[int, set[str], set[str]]:
        """(ready count, unready pods, pods without metrics) as kube's groupPods sorts them; ignored pods dropped."""
        ready, unready, missing = 0, set(), set()
        now = self.engine.clock.now
        for pod in pods:
            name, status = pod["metadata"]["name"], pod.get("status") or {}
            if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
                values.pop(name, None)
                continue
            if status.get("phase") == "Pending":
                unready.add(name)
                continue
            if name not in values:
                missing.add(name)
                continue
            if resource == "cpu":
                cond = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
                started = self.engine.parse(status.get("startTime")) or now
                changed = self.engine.parse((cond or {}).get("lastTransitionTime")) or started
                if cond is None:
                    unready.add(name)
                    continue
                if started + CPU_INITIALIZATION_S > now:
                    late = self.engine.metrics.scraped_at() < changed + 15
                    if cond.get("status") == "False" or late:
                        unready.add(name)
                        continue
                elif cond.get("status") == "False" and started + READINESS_DELAY_S > changed:
                    unready.add(name)
                    continue
            ready += 1
        return ready, unready, missing

    @staticmethod
    def _plain(values: dict[str, int], requests: dict[str, int], unready: set[str], missing: set[str],
               current: int, goal: int, ready: int) -> int:
        """kube's replica calculator for one metric: utilization of requests when given, else a per-pod average."""
        def ratio(sample: dict[str, int]) -> float:
            if requests:
                return (sum(sample.values()) * 100 // max(sum(requests[p] for p in sample), 1)) / goal
            return sum(sample.values()) / len(sample) / goal

        usage = ratio(values)
        up_with_unready = bool(unready) and usage > 1.0
        if not up_with_unready and not missing:
            return current if abs(1.0 - usage) <= TOLERANCE else math.ceil(usage * (ready or len(values)))
        sample = dict(values)
        for pod in missing:
            sample[pod] = (requests.get(pod, 0) if requests else goal) if usage < 1.0 else 0
        if up_with_unready:
            for pod in unready:
                if not requests or pod in requests:
                    sample[pod] = 0
        fresh = ratio(sample)
        if abs(1.0 - fresh) <= TOLERANCE or (usage < 1.0 < fresh) or (usage > 1.0 > fresh):
            return current
        replicas = math.ceil(fresh * len(sample))
        if (fresh < 1.0 and replicas > current) or (fresh > 1.0 and replicas < current):
            return current
        return replicas

    # ------------------------------------------------------------------------------------------------ normalize
    def _normalize(self, spec: Obj, memory: HpaMemory, current: int, desired: int, low: int, high: int, now: float,
                   condition: Any) -> int:
        behavior = spec.get("behavior")
        up_rules, down_rules = (behavior or {}).get("scaleUp") or {}, (behavior or {}).get("scaleDown") or {}
        up_window = up_rules.get("stabilizationWindowSeconds", 0) if behavior else 0
        down_window = down_rules.get("stabilizationWindowSeconds", DOWNSCALE_WINDOW_S) if behavior else \
            DOWNSCALE_WINDOW_S
        rising = bool(behavior) and desired >= current
        window = up_window if rising else down_window
        pick = min if rising else max
        recent = [r for t, r in memory.recommendations if t >= now - window]
        stabilized = pick([desired, *recent])
        keep = max(up_window, down_window)
        memory.recommendations = [(t, r) for t, r in memory.recommendations if t >= now - keep] + [(now, desired)]
        if stabilized != desired:
            if rising:
                condition("AbleToScale", "True", "ScaleUpStabilized",
                          "recent recommendations were lower than current one, applying the lowest recent "
                          "recommendation")
            else:
                condition("AbleToScale", "True", "ScaleDownStabilized",
                          "recent recommendations were higher than current one, applying the highest recent "
                          "recommendation")
        else:
            condition("AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size")
        final, reason, message = self._limit(behavior, memory, current, stabilized, low, high, now)
        condition("ScalingLimited", "False" if final == stabilized else "True", reason, message)
        return final

    @staticmethod
    def _limit(behavior: Obj | None, memory: HpaMemory, current: int, desired: int, low: int, high: int,
               now: float) -> tuple[int, str, str]:
        """Clamp to min/max and the scale-up (or behavior rate) limit; the ScalingLimited reason and message."""
        if desired > current:
            limit = max(int(SCALE_UP_FACTOR * current), SCALE_UP_MINIMUM) if behavior is None else \
                max(_rate(behavior.get("scaleUp") or {}, memory.scale_up, current, now, up=True), current)
            if high > limit:
                ceiling, reason, message = limit, "ScaleUpLimit", \
                    "the desired replica count is increasing faster than the maximum scale rate"
            else:
                ceiling, reason, message = high, "TooManyReplicas", \
                    "the desired replica count is more than the maximum replica count"
            if desired > ceiling:
                return ceiling, reason, message
        elif desired < current:
            floor = low if behavior is None else \
                max(low, min(_rate(behavior.get("scaleDown") or {}, memory.scale_down, current, now, up=False),
                             current))
            if desired < floor:
                if floor > low:
                    return floor, "ScaleDownLimit", \
                        "the desired replica count is decreasing faster than the maximum scale rate"
                return floor, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
        if desired < low:
            return low, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
        return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _rate(rules: Obj, events: list[tuple[float, int]], current: int, now: float, *, up: bool) -> int:
    """The most (scale-up) or fewest (scale-down) replicas the behavior's policies allow right now."""
    select = rules.get("selectPolicy", "Max")
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        changed = sum(n for t, n in events if t > now - policy.get("periodSeconds", 15))
        start = current - changed if up else current + changed
        value = policy.get("value", 0)
        if policy.get("type") == "Pods":
            proposals.append(start + value if up else start - value)
        else:
            proposals.append(math.ceil(start * (1 + value / 100)) if up else int(start * (1 - value / 100)))
    if not proposals:
        return current
    wide = (max if up else min) if select == "Max" else (min if up else max)
    return wide(proposals)
