"""Voluntary disruption: the PodDisruptionBudget controller and the Eviction API that honours it — what ``kubectl
drain`` relies on (cordoning, and the taint it brings, is the scheduler's node-lifecycle pass).

Worded as kube-controller-manager 1.32's disruption controller and the API server's ``pods/eviction`` handler: an
eviction the budget allows marks the pod ``DisruptionTarget``, deletes it gracefully and takes one disruption off
the budget (recording the pod under ``disruptedPods`` until the controller sees it go); one it forbids is a 429
``Cannot evict pod as it would violate the pod's disruption budget.`` that ``kubectl drain`` retries every 5 s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.clock import human_duration, parse_time
from opsgym.cluster.sim.controllers import pod_ready, set_condition
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.schema import decode
from opsgym.cluster.sim.status import ApiError, FieldError, status_object
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.workloads import _scaled
from opsgym.k8s.selectors import Selector

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["ERRORS", "PRINTERS", "DisruptionController", "evict"]

Obj = dict[str, Any]
DELETION_TIMEOUT_S = 120.0
"""How long a pod recorded as disrupted is expected to take to go before the controller counts it again."""
BLOCKED = "Cannot evict pod as it would violate the pod's disruption budget."
COUNTS = ("observedGeneration", "disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")
SCALED_KINDS = {"ReplicaSet": "replicasets", "StatefulSet": "statefulsets", "Deployment": "deployments"}


class _SyncFailed(Exception):
    """The budget's expected pod count cannot be computed (the controller's failSafe path)."""


def _go_selector(selector: Obj | None) -> str:
    """``%v`` of a ``*metav1.LabelSelector``, as the UnmanagedPods event prints it."""
    if selector is None:
        return "nil"
    labels = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    exprs = "".join(f"LabelSelectorRequirement{{Key:{e.get('key')},Operator:{e.get('operator')},"
                    f"Values:[{' '.join(e.get('values') or [])}],}},"
                    for e in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")


def _allowed_condition(status: Obj, now: str) -> None:
    """The DisruptionAllowed condition for the status's current allowance (apimachinery's SetStatusCondition)."""
    allowed = status.get("disruptionsAllowed", 0) > 0
    conditions = status.setdefault("conditions", [])
    fresh = {"type": "DisruptionAllowed", "status": "True" if allowed else "False",
             "observedGeneration": status.get("observedGeneration", 0), "lastTransitionTime": now,
             "reason": "SufficientPods" if allowed else "InsufficientPods", "message": ""}
    _put_condition(conditions, fresh)


def _own_status(pdb: Obj) -> Obj:
    """The budget's status as this controller and the eviction handler wrote it; anything else a client put in
    ``/status`` (a wrong type) is dropped rather than trusted."""
    old = pdb.get("status")
    if not isinstance(old, dict):
        old = {}
    status: Obj = {k: v for k, v in old.items() if k in COUNTS and isinstance(v, int) and not isinstance(v, bool)}
    pods = old.get("disruptedPods")
    if isinstance(pods, dict):
        status["disruptedPods"] = {k: v for k, v in pods.items() if isinstance(v, str)}
    status["conditions"] = [dict(c) for c in old.get("conditions") or [] if isinstance(c, dict)]
    return status


def _put_condition(conditions: list[Obj], fresh: Obj) -> None:
    for i, cond in enumerate(conditions):
        if cond.get("type") == fresh["type"]:
            if cond.get("status") == fresh["status"]:
                fresh["lastTransitionTime"] = cond.get("lastTransitionTime", fresh["lastTransitionTime"])
            conditions[i] = fresh
            return
    conditions.append(fresh)


def _budget_errors(obj: Obj) -> list[FieldError]:
    """The API server's PodDisruptionBudget spec validation."""
    spec, errors = obj.get("spec") or {}, []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errors.append(FieldError("spec", "Invalid", "minAvailable and maxUnavailable cannot be both set",
                                 show_value=False))
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if isinstance(value, int) and value < 0:
            errors.append(FieldError(f"spec.{key}", "Invalid", "must be greater than or equal to 0", value))
        elif isinstance(value, str):
            digits = value[:-1] if value.endswith("%") else ""
            if not digits.isdigit():
                errors.append(FieldError(f"spec.{key}", "Invalid", "must be an integer or percentage (e.g '5%')",
                                         value))
            elif int(digits) > 100:
                errors.append(FieldError(f"spec.{key}", "Invalid", "must not be greater than 100%", value))
    return errors


ERRORS = {"poddisruptionbudgets": _budget_errors}
"""Field validation of budgets, worded as the API server's."""


class DisruptionController:
    """PodDisruptionBudget status: how many pods are healthy, how many must be, how many may go."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store

    def run(self) -> None:
        for pdb in self.store.items("poddisruptionbudgets"):
            self._sync(pdb)

    # ------------------------------------------------------------------------------------------------ budgets
    def _sync(self, pdb: Obj) -> None:
        meta, spec = pdb["metadata"], pdb.get("spec") or {}
        selector = spec.get("selector")
        pods = [] if selector is None else [p for p in self.store.items("pods", meta["namespace"])
                                            if Selector.from_object(selector).matches(p["metadata"].get("labels"))]
        if not pods:
            self._event(pdb, "Normal", "NoPods", "No matching pods found")
        status = _own_status(pdb)
        try:
            expected, desired = self._expected(pdb, pods)
        except _SyncFailed as exc:
            status["disruptionsAllowed"] = 0
            _put_condition(status["conditions"], {
                "type": "DisruptionAllowed", "status": "False",
                "observedGeneration": status.get("observedGeneration", 0), "lastTransitionTime": self.engine.stamp(),
                "reason": "SyncFailed", "message": str(exc)})
            self._write(pdb, status)
            return
        now = self.engine.clock.now
        disrupted = {}
        for pod in pods:
            when = (status.get("disruptedPods") or {}).get(pod["metadata"]["name"])
            since = self.engine.parse(when)
            if pod["metadata"].get("deletionTimestamp") or since is None:
                continue
            if since + DELETION_TIMEOUT_S < now:
                self._event(pod, "Warning", "NotDeleted", f"Pod was expected by PDB {meta['namespace']}/"
                            f"{meta['name']} to be deleted but it wasn't")
            else:
                disrupted[pod["metadata"]["name"]] = when
        healthy = sum(1 for p in pods if not p["metadata"].get("deletionTimestamp") and
                      p["metadata"]["name"] not in disrupted and pod_ready(p))
        allowed = healthy - desired if expected > 0 and healthy > desired else 0
        fresh = {"observedGeneration": meta.get("generation", 1)}
        if disrupted:
            fresh["disruptedPods"] = disrupted
        fresh |= {"disruptionsAllowed": allowed, "currentHealthy": healthy, "desiredHealthy": desired,
                  "expectedPods": expected, "conditions": status["conditions"]}
        _allowed_condition(fresh, self.engine.stamp())
        self._write(pdb, fresh)

    def _expected(self, pdb: Obj, pods: list[Obj]) -> tuple[int, int]:
        """(expectedPods, desiredHealthy) as getExpectedPodCount: an integer minAvailable counts the pods, a
        percentage or maxUnavailable the replicas their controllers want."""
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected = self._scale(pdb, pods)
            return expected, max(0, expected - _scaled(spec["maxUnavailable"], expected, round_up=True))
        minimum = spec.get("minAvailable")
        if isinstance(minimum, int):
            return len(pods), minimum
        if minimum is not None:
            expected = self._scale(pdb, pods)
            return expected, _scaled(minimum, expected, round_up=True)
        return 0, 0

    def _scale(self, pdb: Obj, pods: list[Obj]) -> int:
        scales: dict[str, int] = {}
        unmanaged = []
        for pod in pods:
            ref = next((r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            owner = self._controller(pod["metadata"]["namespace"], ref)
            if owner is None:
                raise _SyncFailed(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[owner["metadata"]["uid"]] = (owner.get("spec") or {}).get("replicas", 1)
        if unmanaged:
            self._event(pdb, "Warning", "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: "
                        f"{_go_selector((pdb.get('spec') or {}).get('selector'))}) were found to be unmanaged. As a "
                        "result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                        'behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an '
                        "integer value.")
        return sum(scales.values())

    def _controller(self, namespace: str, ref: Obj) -> Obj | None:
        """The pod's scalable controller (a ReplicaSet's Deployment stands for it), or None."""
        plural = SCALED_KINDS.get(str(ref.get("kind")))
        owner = self.store.get(plural, namespace, str(ref.get("name"))) if plural else None
        if owner is None or owner["metadata"]["uid"] != ref.get("uid"):
            return None
        parent = next((r for r in owner["metadata"].get("ownerReferences") or []
                       if r.get("controller") and r.get("kind") == "Deployment"), None)
        return self._controller(namespace, parent) if parent is not None else owner

    def _write(self, pdb: Obj, status: Obj) -> None:
        if status != pdb.get("status"):
            self.store.put("poddisruptionbudgets", revised(pdb, status=status))

    def _event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        """Once per state: the controller repeats these every sync, which would only raise the count."""
        if (obj["metadata"]["uid"], "", kind, reason, message, "controllermanager") not in self.engine.events.index:
            self.engine.events.emit(obj, kind, reason, message, "controllermanager")


# ---------------------------------------------------------------------------------------------------- eviction
def _budgets(engine: Engine, pod: Obj) -> list[Obj]:
    """The budgets covering ``pod``; the eviction handler ignores an empty or missing selector."""
    labels = pod["metadata"].get("labels") or {}
    return [pdb for pdb in engine.store.items("poddisruptionbudgets", pod["metadata"]["namespace"])
            if (sel := (pdb.get("spec") or {}).get("selector")) and
            (sel.get("matchLabels") or sel.get("matchExpressions")) and Selector.from_object(sel).matches(labels)]


def _too_many(cause: str) -> ApiError:
    return ApiError(429, "TooManyRequests", BLOCKED, {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


def evict(engine: Engine, namespace: str, name: str, body: Any, dry_run: bool) -> Obj:
    """``POST pods/NAME/eviction``: delete the pod if its budget allows, or refuse with 429.

    Raises:
        ApiError: 400 for a body that is not this pod's Eviction, 404 for a missing pod, 429 when the budget forbids
            it, 500 when more than one budget covers the pod.
    """
    body, _ = decode("Eviction", body)
    if body.get("kind", "Eviction") != "Eviction":
        raise ApiError.bad_request(f"not a Eviction object: {body.get('kind')}")
    if (body.get("metadata") or {}).get("name") != name:
        raise ApiError.bad_request("name in URL does not match name in Eviction object")
    options = {k: v for k, v in (body.get("deleteOptions") or {}).items() if k not in ("kind", "apiVersion")}
    dry_run = dry_run or options.get("dryRun") == ["All"]
    pod = engine.api.get(lookup("pods"), namespace, name)
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed", "Pending") and not pod["metadata"].get("deletionTimestamp"):
        budgets = _budgets(engine, pod)
        if len(budgets) > 1:
            raise ApiError(500, "", "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                           "does not support.")
        if budgets:
            _spend(engine, budgets[0], pod, dry_run)
    if not dry_run:
        _mark(engine, pod)
    engine.api.delete(lookup("pods"), namespace, name, {k: v for k, v in options.items() if k != "dryRun"},
                      dry_run=dry_run)
    return status_object(201, "", "")


def _spend(engine: Engine, pdb: Obj, pod: Obj, dry_run: bool) -> None:
    """Take one disruption off ``pdb`` for ``pod`` (checkAndDecrement), unless the pod is unhealthy and the
    budget's unhealthyPodEvictionPolicy lets it go without spending one.

    Raises:
        ApiError: 429 when the budget allows no disruption (or has not been processed yet), 403 when its status is
            inconsistent.
    """
    spec, status = pdb.get("spec") or {}, _own_status(pdb)
    if not pod_ready(pod) and (spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow" or
                               0 < status.get("desiredHealthy", 0) <= status.get("currentHealthy", 0)):
        return
    meta = pdb["metadata"]
    if status.get("observedGeneration", 0) < meta.get("generation", 1):
        raise _too_many(f"The disruption budget {meta['name']} is still being processed by the server.")
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise ApiError.forbidden("poddisruptionbudget.policy", meta["name"], "pdb disruptions allowed is negative")
    if allowed == 0:
        raise _too_many(f"The disruption budget {meta['name']} needs {status.get('desiredHealthy', 0)} healthy pods "
                        f"and has {status.get('currentHealthy', 0)} currently")
    if dry_run:
        return
    status["disruptionsAllowed"] = allowed - 1
    if allowed == 1:
        _allowed_condition(status, engine.stamp())
    status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod["metadata"]["name"]: engine.stamp()}
    engine.store.put("poddisruptionbudgets", revised(pdb, status=status))


def _mark(engine: Engine, pod: Obj) -> None:
    """The DisruptionTarget condition the eviction handler sets before it deletes the pod."""
    status = dict(pod.get("status") or {})
    status["conditions"] = [dict(c) for c in status.get("conditions") or []]
    set_condition(status["conditions"], "DisruptionTarget", "True", engine.stamp(), "EvictionByEvictionAPI",
                  "Eviction API: evicting")
    engine.store.put("pods", revised(pod, status=status))


# ---------------------------------------------------------------------------------------------------- printing
def _budget_row(pdb: Obj, now: float) -> list[Any]:
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    when = parse_time(pdb["metadata"].get("creationTimestamp"))
    return [pdb["metadata"]["name"], "N/A" if spec.get("minAvailable") is None else str(spec["minAvailable"]),
            "N/A" if spec.get("maxUnavailable") is None else str(spec["maxUnavailable"]),
            status.get("disruptionsAllowed", 0), "<unknown>" if when is None else human_duration(now - when)]


PRINTERS: dict[str, tuple[list[tuple[str, str, int]], Any]] = {
    "poddisruptionbudgets": ([("Name", "string", 0), ("Min Available", "string", 0),
                              ("Max Unavailable", "string", 0), ("Allowed Disruptions", "integer", 0),
                              ("Age", "string", 0)], _budget_row)}
"""``kubectl get pdb`` columns, as kube's printer defines them."""
