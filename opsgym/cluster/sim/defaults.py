"""Defaulting and validation, following the kube-apiserver's strategies for the kinds the simulator serves.

Defaults matter because agents read them back (``kubectl get -o yaml`` shows ``imagePullPolicy``, probe periods,
``maxSurge: 25%``) and the controllers rely on them. Validation returns field errors worded like the real
server's, so a bad manifest fails the way it would on kind.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from opsgym.cluster.sim.admission import policy_defaults
from opsgym.cluster.sim.claim_updates import UPDATE_ERRORS as STORAGE_UPDATE_ERRORS
from opsgym.cluster.sim.disruption import ERRORS as BUDGET_ERRORS
from opsgym.cluster.sim.hpa_spec import hpa_defaults, hpa_errors
from opsgym.cluster.sim.status import ApiError, FieldError
from opsgym.cluster.sim.storage_kinds import DEFAULTS as STORAGE_DEFAULTS
from opsgym.cluster.sim.storage_kinds import ERRORS as STORAGE_ERRORS
from opsgym.cluster.sim.workload_specs import KINDS as WORKLOAD_KINDS
from opsgym.cluster.sim.workload_specs import default_kind, immutable_errors, validate_kind
from opsgym.k8s.kinds import Kind
from opsgym.k8s.quantity import quantity_or
from opsgym.k8s.selectors import matches_selector

__all__ = ["MAX_REPLICAS", "apply_defaults", "replicas_error", "validate", "validate_name"]

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                 "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
                 r"is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
             "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
             "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
               "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
               "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
MAX_REPLICAS = 1000
"""The embedded cluster's bound on a workload's replicas. Its two nodes hold 110 pods each, yet every pod of every
replica count is created and simulated on each pass, so an agent's `kubectl scale --replicas=70000` would stall the
episode for minutes; such a request is refused with a 422 that says why instead."""


def validate_name(rt: Kind, name: Any, field: str = "metadata.name") -> list[FieldError]:
    if not name:
        return [FieldError(field, "Required", "name or generateName is required")]
    if not isinstance(name, str):
        return [FieldError(field, "Invalid", "must be a string", name)]
    if rt.plural == "namespaces" or rt.plural == "services":
        pattern, msg = (LABEL, LABEL_MSG) if rt.plural == "namespaces" else (DNS1035, DNS1035_MSG)
        if len(name) > 63:
            return [FieldError(field, "Invalid", "must be no more than 63 characters", name)]
        return [] if pattern.match(name) else [FieldError(field, "Invalid", msg, name)]
    if len(name) > 253:
        return [FieldError(field, "Invalid", "must be no more than 253 characters", name)]
    return [] if SUBDOMAIN.match(name) else [FieldError(field, "Invalid", SUBDOMAIN_MSG, name)]


# ---------------------------------------------------------------------------------------------------- defaults
PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _default_probe(probe: dict[str, Any] | None) -> None:
    if not probe:
        return
    for key, value in PROBE_DEFAULTS.items():
        if probe.get(key) in (None, 0):  # as the API server's defaulting: an explicit 0 means "unset" too
            probe[key] = value
    if "httpGet" in probe:
        probe["httpGet"].setdefault("path", "/")
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(c: dict[str, Any], pod: bool) -> None:
    image = c.get("image") or ""
    tag = image.rsplit("/", 1)[-1]
    c.setdefault("imagePullPolicy", "Always" if (":" not in tag or tag.endswith(":latest")) and "@" not in tag
                 else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    resources = c.setdefault("resources", {})
    if pod:  # requests default to limits on Pods only, never in a workload's template (so a new limit still can)
        for res, limit in (resources.get("limits") or {}).items():
            resources.setdefault("requests", {}).setdefault(res, limit)
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef")
        if field_ref is not None:
            field_ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))


def _default_pod_spec(spec: dict[str, Any], *, pod: bool) -> None:
    for key, value in (("restartPolicy", "Always"), ("terminationGracePeriodSeconds", 30),
                       ("dnsPolicy", "ClusterFirst"), ("schedulerName", "default-scheduler"),
                       ("securityContext", {})):
        spec.setdefault(key, value)
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _default_container(c, pod)
    for volume in spec.get("volumes") or []:
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)


def apply_defaults(rt: Kind, obj: dict[str, Any]) -> None:
    """Fill the defaults the API server would (in place)."""
    spec: dict[str, Any] = obj.setdefault("spec", {}) if rt.plural in ("pods", "deployments", "replicasets",
                                                                       "services") else {}
    if rt.plural == "pods":
        _default_pod_spec(spec, pod=True)
        spec.setdefault("serviceAccountName", "default")
        spec["serviceAccount"] = spec["serviceAccountName"]
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        if "tolerations" not in spec:
            spec["tolerations"] = [
                {"key": f"node.kubernetes.io/{k}", "operator": "Exists", "effect": "NoExecute",
                 "tolerationSeconds": 300} for k in ("not-ready", "unreachable")]
    elif rt.plural in ("deployments", "replicasets"):
        spec.setdefault("replicas", 1)
        template = spec.setdefault("template", {})
        _default_pod_spec(template.setdefault("spec", {}), pod=False)
        if rt.plural == "deployments":
            strategy = spec.setdefault("strategy", {})
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
    elif rt.plural == "services":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec["type"] != "ExternalName":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {}).setdefault("loadBalancer", {})
    elif rt.plural == "secrets":
        obj.setdefault("type", "Opaque")
        for key, value in (obj.pop("stringData", None) or {}).items():
            obj.setdefault("data", {})[key] = base64.b64encode(str(value).encode()).decode()
    elif rt.plural == "namespaces":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif rt.plural == "horizontalpodautoscalers":
        hpa_defaults(obj)
    elif rt.plural in WORKLOAD_KINDS:
        default_kind(rt.plural, obj)
    elif rt.plural in STORAGE_DEFAULTS:
        STORAGE_DEFAULTS[rt.plural](obj)
    elif rt.plural in ("limitranges", "priorityclasses"):
        policy_defaults(rt.plural, obj)


KIND_ERRORS = {**STORAGE_ERRORS, **BUDGET_ERRORS}


# ---------------------------------------------------------------------------------------------------- validation
def _labels(labels: dict[str, str] | None, field: str) -> list[FieldError]:
    errors = []
    for key, value in (labels or {}).items():
        name = key.rsplit("/", 1)[-1]
        if not name or len(name) > 63 or not LABEL_VALUE.match(name):
            errors.append(FieldError(field, "Invalid", "name part must consist of alphanumeric characters, '-', "
                                     "'_' or '.', and must start and end with an alphanumeric character", key))
        if len(value) > 63 or not LABEL_VALUE.match(value):
            errors.append(FieldError(f"{field}", "Invalid", "a valid label must be an empty string or consist of "
                                     "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                     "alphanumeric character", value))
    return errors


def _probe(probe: dict[str, Any] | None, where: str) -> list[FieldError]:
    """One handler, non-negative integer timings: what the kubelet's arithmetic relies on."""
    if probe is None:
        return []
    handlers = [k for k in PROBE_HANDLERS if probe.get(k) is not None]
    if not handlers:
        return [FieldError(where, "Required", "must specify a handler type")]
    errors = [FieldError(f"{where}.{k}", "Forbidden", "may not specify more than 1 handler type")
              for k in handlers[1:]]
    for key in ("initialDelaySeconds", *PROBE_DEFAULTS):
        value = probe.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            errors.append(FieldError(f"{where}.{key}", "Invalid", "must be greater than or equal to 0", value))
    return errors


def _pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = spec.get("containers") or []
    if not containers:
        errors.append(FieldError(f"{path}.containers", "Required", ""))
    volumes = {v.get("name") for v in spec.get("volumes") or []}
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            where = f"{path}.{group}[{i}]"
            name = c.get("name")
            if not name:
                errors.append(FieldError(f"{where}.name", "Required", ""))
            elif not LABEL.match(name) or len(name) > 63:
                errors.append(FieldError(f"{where}.name", "Invalid", LABEL_MSG, name))
            elif name in seen:
                errors.append(FieldError(f"{where}.name", "Duplicate", "", name))
            seen.add(name or "")
            if not c.get("image"):
                errors.append(FieldError(f"{where}.image", "Required", ""))
            for j, port in enumerate(c.get("ports") or []):
                value = port.get("containerPort")
                if not isinstance(value, int) or not 1 <= value <= 65535:
                    errors.append(FieldError(f"{where}.ports[{j}].containerPort", "Invalid",
                                             "must be between 1 and 65535, inclusive", value))
            for j, env in enumerate(c.get("env") or []):
                if not env.get("name"):
                    errors.append(FieldError(f"{where}.env[{j}].name", "Required", ""))
            for j, mount in enumerate(c.get("volumeMounts") or []):
                if mount.get("name") not in volumes:
                    errors.append(FieldError(f"{where}.volumeMounts[{j}].name", "NotFound", "", mount.get("name")))
                if not mount.get("mountPath"):
                    errors.append(FieldError(f"{where}.volumeMounts[{j}].mountPath", "Required", ""))
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                errors += _probe(c.get(probe), f"{where}.{probe}")
            limits = (c.get("resources") or {}).get("limits") or {}
            for res, request in ((c.get("resources") or {}).get("requests") or {}).items():
                if res in limits and quantity_or(request, 0.0) > quantity_or(limits[res], 0.0):
                    errors.append(FieldError(f"{where}.resources.requests", "Invalid",
                                             f"must be less than or equal to {res} limit of {limits[res]}", request))
    policy = spec.get("restartPolicy")
    if policy not in ("Always", "OnFailure", "Never"):
        errors.append(FieldError(f"{path}.restartPolicy", "Unsupported",
                                 'supported values: "Always", "OnFailure", "Never"', policy))
    return errors


def replicas_error(replicas: int) -> FieldError | None:
    """What is wrong with a workload's replica count, if anything (shared by writes and the scale subresource)."""
    if replicas < 0:
        return FieldError("spec.replicas", "Invalid", "must be greater than or equal to 0", replicas)
    if replicas > MAX_REPLICAS:
        return FieldError("spec.replicas", "Invalid", f"must be no more than {MAX_REPLICAS} on the embedded cluster "
                          "(every pod is simulated; a real cluster would accept it and leave most pods Pending)",
                          replicas)
    return None


def _workload(rt: Kind, obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    problem = replicas_error(spec.get("replicas", 1))
    if problem is not None:
        errors.append(problem)
    selector = spec.get("selector")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        errors.append(FieldError("spec.selector", "Required", ""))
    elif not matches_selector(selector, labels):
        errors.append(FieldError("spec.template.metadata.labels", "Invalid", "`selector` does not match template "
                                 "`labels`", f"map[string]string{labels}"))
    errors += _labels(labels, "spec.template.metadata.labels")
    template_spec = (spec.get("template") or {}).get("spec") or {}
    errors += _pod_spec(template_spec, "spec.template.spec")
    if template_spec.get("restartPolicy") not in ("Always", None):
        errors = [e for e in errors if not e.field.endswith("restartPolicy")]
        errors.append(FieldError("spec.template.spec.restartPolicy", "Unsupported", 'supported values: "Always"',
                                 template_spec.get("restartPolicy")))
    strategy = spec.get("strategy") or {}
    if rt.plural == "deployments":
        if strategy.get("type") not in ("RollingUpdate", "Recreate"):
            errors.append(FieldError("spec.strategy.type", "Unsupported", 'supported values: "Recreate", '
                                     '"RollingUpdate"', strategy.get("type")))
        rolling = strategy.get("rollingUpdate") or {}
        if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
            errors.append(FieldError("spec.strategy.rollingUpdate", "Forbidden",
                                     "may not be specified when strategy `type` is 'Recreate'"))
        if str(rolling.get("maxSurge", "")).strip("%") in ("0",) and \
                str(rolling.get("maxUnavailable", "")).strip("%") in ("0",):
            errors.append(FieldError("spec.strategy.rollingUpdate.maxUnavailable", "Invalid",
                                     "may not be 0 when `maxSurge` is 0", rolling.get("maxUnavailable")))
    return errors


def _service(obj: dict[str, Any]) -> list[FieldError]:
    spec = obj.get("spec") or {}
    errors: list[FieldError] = []
    kind = spec.get("type")
    if kind not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
        errors.append(FieldError("spec.type", "Unsupported", 'supported values: "ClusterIP", "ExternalName", '
                                 '"LoadBalancer", "NodePort"', kind))
    ports = spec.get("ports") or []
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        errors.append(FieldError("spec.ports", "Required", ""))
    names = set()
    for i, port in enumerate(ports):
        value = port.get("port")
        if not isinstance(value, int) or not 1 <= value <= 65535:
            errors.append(FieldError(f"spec.ports[{i}].port", "Invalid", "must be between 1 and 65535, inclusive",
                                     value))
        if len(ports) > 1 and not port.get("name"):
            errors.append(FieldError(f"spec.ports[{i}].name", "Required", ""))
        if port.get("name") in names:
            errors.append(FieldError(f"spec.ports[{i}].name", "Duplicate", "", port.get("name")))
        names.add(port.get("name"))
    return errors + _labels(spec.get("selector"), "spec.selector")


def _pod_update(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    def mutable_stripped(spec: dict[str, Any]) -> dict[str, Any]:
        spec = {k: v for k, v in spec.items() if k not in ("activeDeadlineSeconds", "tolerations",
                                                            "terminationGracePeriodSeconds")}
        for group in ("containers", "initContainers"):
            spec[group] = [{k: v for k, v in c.items() if k != "image"} for c in spec.get(group) or []]
        return spec

    if mutable_stripped(new.get("spec") or {}) != mutable_stripped(old.get("spec") or {}):
        return [FieldError("spec", "Forbidden", "pod updates may not change fields other than "
                           "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                           "`spec.tolerations` (only additions to existing tolerations),"
                           "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
                           "negative)")]
    return []


def validate(rt: Kind, obj: dict[str, Any], old: dict[str, Any] | None = None) -> None:
    """Raise a 422 ``Invalid`` with every field error, as the API server's validation does.

    Raises:
        ApiError: the object is invalid (or, on update, changes an immutable field).
    """
    meta = obj["metadata"]
    errors = validate_name(rt, meta.get("name")) + _labels(meta.get("labels"), "metadata.labels")
    if rt.plural == "pods":
        errors += _pod_spec(obj.get("spec") or {}, "spec")
    elif rt.plural in ("deployments", "replicasets"):
        errors += _workload(rt, obj)
    elif rt.plural == "services":
        errors += _service(obj)
    elif rt.plural == "horizontalpodautoscalers":
        errors += hpa_errors(obj)
    elif rt.plural in KIND_ERRORS:
        errors += KIND_ERRORS[rt.plural](obj)
    elif rt.plural in WORKLOAD_KINDS:
        errors += validate_kind(rt.plural, obj, old is None)
    elif rt.plural in ("configmaps", "secrets"):
        for key in list(obj.get("data") or {}) + list(obj.get("binaryData") or {}):
            if not re.match(r"^[-._a-zA-Z0-9]+$", key) or len(key) > 253:
                errors.append(FieldError(f"data[{key}]", "Invalid", "a valid config key must consist of "
                                         "alphanumeric characters, '-', '_' or '.'", key))
        if rt.plural == "secrets":
            for key, value in (obj.get("data") or {}).items():
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise ApiError.bad_request(
                        f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data in data[{key}]'
                    ) from None
    if old is not None:
        errors += _immutable(rt, obj, old)
    if errors:
        raise ApiError.invalid(rt.kind_qualified, str(meta.get("name") or ""), errors)


def _immutable(rt: Kind, obj: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    if rt.plural == "pods":
        return _pod_update(obj, old)
    if rt.plural in STORAGE_UPDATE_ERRORS:
        return STORAGE_UPDATE_ERRORS[rt.plural](obj, old)
    if rt.plural in WORKLOAD_KINDS:
        return immutable_errors(rt.plural, obj, old)
    if rt.plural in ("deployments", "replicasets"):
        new_sel, old_sel = (obj.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
        if new_sel != old_sel:
            return [FieldError("spec.selector", "Invalid", "field is immutable", str(new_sel))]
    if rt.plural in ("configmaps", "secrets") and old.get("immutable"):
        if obj.get("data") != old.get("data") or obj.get("binaryData") != old.get("binaryData"):
            return [FieldError("data", "Forbidden", "field is immutable when `immutable` is set")]
    if rt.plural == "services":
        new_ip, old_ip = (obj.get("spec") or {}).get("clusterIP"), (old.get("spec") or {}).get("clusterIP")
        if new_ip and old_ip and new_ip != old_ip:
            return [FieldError("spec.clusterIPs[0]", "Invalid", "may not change once set", new_ip)]
    return []
