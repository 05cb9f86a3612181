"""Admission and the policy controllers: LimitRange, Priority, PodSecurity and ResourceQuota as kube-apiserver 1.32
applies them to a create, plus the controllers behind them (quota usage, ClusterRole aggregation, legacy tokens).

Each plugin acts only where its feature is used (a namespace with a LimitRange, a ResourceQuota or a pod-security
label, a pod naming a PriorityClass, a global default class), so existing scenarios are admitted exactly as before.
Messages are the plugins' own (``exceeded quota: …``, ``maximum cpu usage per Container is 1, but limit is 2``,
``no PriorityClass with name x was found``). The order is the apiserver's: mutating LimitRanger and Priority, then
validating LimitRanger, PodSecurity and ResourceQuota.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim import escalation, podsecurity, rbac
from opsgym.cluster.sim.identity import Authority
from opsgym.cluster.sim.kinds import BY_PLURAL, lookup
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import revised
from opsgym.errors import QuantityError
from opsgym.k8s.quantity import parse_quantity

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine
    from opsgym.k8s.kinds import Kind

__all__ = ["Policy", "policy_defaults", "quantity_text"]

Obj = dict[str, Any]
Amount = tuple[Decimal, bool]
"""A quantity and whether it prints in binary units (``Mi``), as the first value summed into it did."""
TEMPLATED = ("deployments", "replicasets", "statefulsets", "daemonsets", "jobs")
COMPUTE = ("cpu", "memory", "ephemeral-storage")
MUST_SPECIFY = {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
DECIMAL_SUFFIXES = ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, ""), (-3, "m"), (-6, "u"),
                    (-9, "n"))
BINARY_SUFFIXES = ((60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki"))
SYSTEM_CLASSES = (("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the "
                   "cluster, but can be moved to another node if necessary."),
                  ("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from "
                   "their current node."))


def _amount(text: Any) -> Amount:
    try:
        return parse_quantity(text), "i" in str(text)
    except QuantityError:
        return Decimal(0), False


def quantity_text(value: Decimal, binary: bool = False) -> str:
    """A quantity's canonical text, as ``resource.Quantity.String()`` prints a sum (``1500m``, ``2``, ``384Mi``)."""
    if value == 0:
        return "0"
    if binary and value == value.to_integral_value():
        whole = int(value)
        for shift, suffix in BINARY_SUFFIXES:
            if abs(whole) >= 1 << shift and whole % (1 << shift) == 0:
                return f"{whole >> shift}{suffix}"
        if abs(whole) >= 1024:
            return str(whole)
    for exponent, suffix in DECIMAL_SUFFIXES:
        scaled = value.scaleb(-exponent)
        if scaled == scaled.to_integral_value():
            return f"{int(scaled)}{suffix}"
    return f"{int(value.scaleb(9).to_integral_value(rounding='ROUND_CEILING'))}n"


def _add(total: dict[str, Amount], key: str, amount: Amount) -> None:
    before = total.get(key)
    total[key] = amount if before is None else (before[0] + amount[0], before[1])


def _pod_resources(spec: Obj, which: str) -> dict[str, Amount]:
    """A pod's effective requests or limits: the containers' sum, or the largest init container if larger."""
    total: dict[str, Amount] = {}
    for c in spec.get("containers") or []:
        for name, text in ((c.get("resources") or {}).get(which) or {}).items():
            _add(total, name, _amount(text))
    for c in spec.get("initContainers") or []:
        for name, text in ((c.get("resources") or {}).get(which) or {}).items():
            amount = _amount(text)
            if name not in total or amount[0] > total[name][0]:
                total[name] = amount
    return total


def usage(plural: str, group: str, obj: Obj) -> dict[str, Amount]:
    """What one object counts against a quota (the quota evaluators' ``Usage``)."""
    one: Amount = (Decimal(1), False)
    used: dict[str, Amount] = {f"count/{plural}.{group}" if group else f"count/{plural}": one}
    if plural == "pods":
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return {}
        used["pods"] = one
        spec = obj.get("spec") or {}
        for name, amount in _pod_resources(spec, "requests").items():
            used[f"requests.{name}"] = amount
            if name in COMPUTE:
                used[name] = amount
        for name, amount in _pod_resources(spec, "limits").items():
            used[f"limits.{name}"] = amount
    elif plural == "services":
        spec = obj.get("spec") or {}
        used["services"] = one
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            used["services.nodeports"] = (Decimal(len(spec.get("ports") or [])), False)
        if spec.get("type") == "LoadBalancer":
            used["services.loadbalancers"] = one
    elif plural == "persistentvolumeclaims":
        used["persistentvolumeclaims"] = one
        storage = ((obj.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
        if storage is not None:
            used["requests.storage"] = _amount(storage)
    elif plural in ("configmaps", "secrets", "resourcequotas", "replicationcontrollers"):
        used[plural] = one
    return used


def _pretty(values: dict[str, Amount]) -> str:
    return ",".join(f"{k}={quantity_text(*values[k])}" for k in sorted(values))


def policy_defaults(plural: str, obj: Obj) -> None:
    """Defaulting of LimitRange items (default limit from max, default request from the limit, then from min) and
    of PriorityClasses (``preemptionPolicy``)."""
    if plural == "priorityclasses":
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
        return
    for item in (obj.get("spec") or {}).get("limits") or []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        default, request = item.setdefault("default", {}), item.setdefault("defaultRequest", {})
        for source, target in ((item.get("max"), default), (default, request), (item.get("min"), request)):
            for key, value in (source or {}).items():
                target.setdefault(key, value)


def _limit_error(kind: str, resource: str, bound: str, requests: Obj, limits: Obj, check: str) -> str | None:
    """One LimitRanger constraint (min, max or maxLimitRequestRatio) on one container or pod."""
    enforced = _amount(bound)[0]
    req, lim = requests.get(resource), limits.get(resource)
    req_v, lim_v = (_amount(req)[0] if req is not None else None), (_amount(lim)[0] if lim is not None else None)
    if check == "min":
        if req_v is None:
            return f"minimum {resource} usage per {kind} is {bound}.  No request is specified"
        if req_v < enforced:
            return f"minimum {resource} usage per {kind} is {bound}, but request is {req}"
        if lim_v is not None and lim_v < enforced:
            return f"minimum {resource} usage per {kind} is {bound}, but limit is {lim}"
    elif check == "max":
        if lim_v is None:
            return f"maximum {resource} usage per {kind} is {bound}.  No limit is specified"
        if lim_v > enforced:
            return f"maximum {resource} usage per {kind} is {bound}, but limit is {lim}"
        if req_v is not None and req_v > enforced:
            return f"maximum {resource} usage per {kind} is {bound}, but request is {req}"
    else:
        prefix = f"{resource} max limit to request ratio per {kind} is {bound}, but"
        if not req_v:
            return f"{prefix} no request is specified or request is 0"
        if not lim_v:
            return f"{prefix} no limit is specified or limit is 0"
        if lim_v / req_v > enforced:
            return f"{prefix} provided ratio is {float(lim_v / req_v):f}"
    return None


class Policy:
    """The engine's admission chain and policy controllers; :attr:`auth` verifies ServiceAccount tokens."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = engine.store
        self.auth = Authority(engine)
        self.requester: rbac.User | None = None
        """Who sent the request being routed (None: the cluster's own code), for RBAC's escalation check."""
        self._seen: dict[str, tuple[int, ...]] = {}

    # ------------------------------------------------------------------------------------------------ bootstrap
    def bootstrap(self) -> None:
        """The default ClusterRoles and bindings, and the two built-in PriorityClasses, as on a fresh kind cluster."""
        rbac.bootstrap(self.engine)
        rng = random.Random(f"priority-bootstrap-{self.engine.seed}")
        for name, value, description in SYSTEM_CLASSES:
            rbac.store_bootstrap(self.engine, "priorityclasses", {
                "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1", "metadata": {"name": name},
                "value": value, "description": description, "preemptionPolicy": "PreemptLowerPriority"}, rng)

    # ------------------------------------------------------------------------------------------------ controllers
    def _changed(self, name: str, *plurals: str) -> bool:
        version = self.store.version(*plurals)
        if self._seen.get(name) == version:
            return False
        self._seen[name] = version
        return True

    def run(self) -> None:
        """ClusterRole aggregation, the legacy token controller and quota usage, each only after its inputs moved."""
        if self._changed("roles", "clusterroles"):
            rbac.aggregate(self.store)
        if self._changed("tokens", "secrets", "serviceaccounts"):
            self.auth.fill_legacy_tokens()
        quotas = self.store.items("resourcequotas")
        counted = {k.split("/", 1)[1].split(".")[0] for q in quotas for k in (q.get("spec") or {}).get("hard") or {}
                   if k.startswith("count/")}
        plurals = sorted({"pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "resourcequotas"}
                         | (counted & set(BY_PLURAL)))
        if quotas and self._changed("quota", *plurals):
            for quota in quotas:
                self._quota_status(quota, plurals)

    def _quota_status(self, quota: Obj, plurals: list[str]) -> None:
        namespace, hard = quota["metadata"]["namespace"], (quota.get("spec") or {}).get("hard") or {}
        total: dict[str, Amount] = {}
        for plural in plurals:
            group = lookup(plural).group
            for obj in self.store.items(plural, namespace):
                for key, amount in usage(plural, group, obj).items():
                    if key in hard:
                        _add(total, key, amount)
        status = {"hard": {k: quantity_text(*_amount(v)) for k, v in hard.items()},
                  "used": {k: quantity_text(*total.get(k, (Decimal(0), _amount(hard[k])[1]))) for k in hard}}
        if quota.get("status") != status:
            self.store.put("resourcequotas", revised(quota, status=status))

    # ------------------------------------------------------------------------------------------------ admission
    def admit(self, rt: Kind, obj: Obj, dry_run: bool) -> list[str]:
        """Run the admission chain on a new object (mutating it); returns warnings, raises a 403 when refused."""
        meta = obj["metadata"]
        namespace = meta.get("namespace", "") if rt.namespaced else ""
        warnings: list[str] = []
        if rt.plural == "pods":
            ranges = self.store.items("limitranges", namespace)
            self._limit_defaults(ranges, obj)
            self._priority(obj)
            self._limit_check(ranges, obj)
            warnings += self._pod_security(namespace, obj, (obj.get("spec") or {}))
        elif rt.plural in (*TEMPLATED, "cronjobs"):
            spec = obj.get("spec") or {}
            template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") \
                if rt.plural == "cronjobs" else spec.get("template")
            warnings += self._pod_security(namespace, None, (template or {}).get("spec") or {})
        escalation.check(self.store, self.requester, rt.plural, obj)
        if namespace:
            self._quota(rt, namespace, obj, dry_run)
        return warnings

    def check_update(self, rt: Kind, obj: Obj) -> None:
        """What an update is admitted against: RBAC's escalation check on Roles and bindings."""
        escalation.check(self.store, self.requester, rt.plural, obj)

    @staticmethod
    def _refuse(obj: Obj, why: str, mutating: bool = False, qualified: str = "pods") -> ApiError:
        """A 403 as ``admission.NewForbidden`` words it: during mutation a generated name is not chosen yet."""
        meta = obj["metadata"]
        name = (meta.get("generateName") or meta.get("name", "")) if mutating else meta.get("name", "")
        return ApiError.forbidden(qualified, name, why)

    def _limit_defaults(self, ranges: list[Obj], pod: Obj) -> None:
        notes: list[str] = []
        spec = pod.get("spec") or {}
        for label, group in (("init container", "initContainers"), ("container", "containers")):
            for c in spec.get(group) or []:
                resources = c.setdefault("resources", {})
                set_requests: list[str] = []
                set_limits: list[str] = []
                for item in (i for r in ranges for i in (r.get("spec") or {}).get("limits") or []
                             if i.get("type") == "Container"):
                    for source, target, note in (("default", "limits", set_limits),
                                                 ("defaultRequest", "requests", set_requests)):
                        for key, value in (item.get(source) or {}).items():
                            if key not in (resources.get(target) or {}):
                                resources.setdefault(target, {})[key] = value
                                note.append(key)
                if set_requests:
                    notes.append(f"{', '.join(sorted(set_requests))} request for {label} {c.get('name', '')}")
                if set_limits:
                    notes.append(f"{', '.join(sorted(set_limits))} limit for {label} {c.get('name', '')}")
        if notes:
            annotations = pod["metadata"].setdefault("annotations", {})
            annotations["kubernetes.io/limit-ranger"] = "LimitRanger plugin set: " + "; ".join(notes)

    def _limit_check(self, ranges: list[Obj], pod: Obj) -> None:
        errors: list[str] = []
        spec = pod.get("spec") or {}
        for item in (i for r in ranges for i in (r.get("spec") or {}).get("limits") or []):
            if item.get("type") == "Container":
                targets = [((c.get("resources") or {}).get("requests") or {},
                            (c.get("resources") or {}).get("limits") or {})
                           for g in ("containers", "initContainers") for c in spec.get(g) or []]
            elif item.get("type") == "Pod":
                targets = [({k: quantity_text(*v) for k, v in _pod_resources(spec, "requests").items()},
                            {k: quantity_text(*v) for k, v in _pod_resources(spec, "limits").items()})]
            else:
                continue
            for requests, limits in targets:
                for check, key in (("min", "min"), ("max", "max"), ("ratio", "maxLimitRequestRatio")):
                    for resource, bound in sorted((item.get(key) or {}).items()):
                        error = _limit_error(item["type"], resource, str(bound), requests, limits, check)
                        if error and error not in errors:
                            errors.append(error)
        if errors:
            raise self._refuse(pod, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")

    def _priority(self, pod: Obj) -> None:
        spec = pod.setdefault("spec", {})
        name = spec.get("priorityClassName")
        if name:
            found = self.store.get("priorityclasses", "", name)
            if found is None:
                raise self._refuse(pod, f"no PriorityClass with name {name} was found", mutating=True)
        else:
            defaults = [c for c in self.store.items("priorityclasses") if c.get("globalDefault")]
            if not defaults:
                return
            found = min(defaults, key=lambda c: c.get("value", 0))
            spec["priorityClassName"] = found["metadata"]["name"]
        value = int(found.get("value", 0))
        if spec.get("priority") not in (None, 0, value):
            raise self._refuse(pod, f"the integer value of priority ({spec['priority']}) must not be provided in pod "
                               f"spec; priority admission controller computed {value} from the given PriorityClass "
                               "name", mutating=True)
        spec["priority"] = value
        spec["preemptionPolicy"] = found.get("preemptionPolicy", "PreemptLowerPriority")

    def _pod_security(self, namespace: str, pod: Obj | None, spec: Obj) -> list[str]:
        ns = self.store.get("namespaces", "", namespace)
        enforce, warn = podsecurity.levels(ns, "enforce"), podsecurity.levels(ns, "warn")
        if pod is not None and enforce:
            found = podsecurity.violations(enforce, spec)
            if found:
                raise self._refuse(pod, f'violates PodSecurity "{enforce}": {", ".join(found)}')
        warnings: list[str] = []
        for policy in dict.fromkeys(p for p in ((enforce if pod is None else None), warn) if p):
            found = podsecurity.violations(policy, spec)
            if found:
                warnings.append(f'would violate PodSecurity "{policy}": {", ".join(found)}')
        return warnings

    def _quota(self, rt: Kind, namespace: str, obj: Obj, dry_run: bool) -> None:
        quotas = self.store.items("resourcequotas", namespace)
        if not quotas:
            return
        wanted = usage(rt.plural, rt.group, obj)
        updated = []
        for quota in quotas:
            status = quota.get("status") or {}
            hard = {k: _amount(v) for k, v in (status.get("hard") or {}).items()}
            if rt.plural == "pods":
                self._must_specify(quota, set(hard) & MUST_SPECIFY, obj)
            requested = {k: v for k, v in wanted.items() if k in hard}
            if not requested:
                continue
            used = {k: _amount(v) for k, v in (status.get("used") or {}).items()}
            new = dict(used)
            for key, amount in requested.items():
                _add(new, key, amount)
            exceeded = sorted(k for k in requested if new[k][0] > hard[k][0])
            if exceeded:
                name = quota["metadata"]["name"]
                raise self._refuse(obj, f"exceeded quota: {name}, requested: "
                                   f"{_pretty({k: requested[k] for k in exceeded})}, used: "
                                   f"{_pretty({k: used[k] for k in exceeded if k in used})}, limited: "
                                   f"{_pretty({k: hard[k] for k in exceeded})}", qualified=rt.qualified)
            updated.append((quota, {k: quantity_text(*v) for k, v in new.items()}))
        if dry_run:
            return
        for quota, used_text in updated:
            status = dict(quota.get("status") or {}, used=used_text)
            self.store.put("resourcequotas", revised(quota, status=status))

    def _must_specify(self, quota: Obj, required: set[str], pod: Obj) -> None:
        """``failed quota: q: must specify limits.cpu for: app; requests.cpu for: app`` (the pod evaluator's
        ``Constraints``: quota on cpu or memory needs every container to state it)."""
        missing: dict[str, list[str]] = {}
        spec = pod.get("spec") or {}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            resources = c.get("resources") or {}
            have = {f"limits.{k}" for k in resources.get("limits") or {}}
            for key in resources.get("requests") or {}:
                have |= {key, f"requests.{key}"}
            for key in sorted(required - have):
                missing.setdefault(key, []).append(c.get("name", ""))
        if missing:
            text = "; ".join(f"{k} for: {','.join(sorted(set(v)))}" for k, v in sorted(missing.items()))
            raise self._refuse(pod, f"failed quota: {quota['metadata']['name']}: must specify {text}")
