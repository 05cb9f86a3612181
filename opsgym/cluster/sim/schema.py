"""Decoding checks: the JSON types and field names of the kinds the simulator interprets.

The real API server decodes a request into Go structs, so a string where an int belongs is a 400 and, with
``fieldValidation=Strict`` (kubectl's default), so is an unknown field such as a misspelt ``readinessProbe``. The
simulator's controllers and kubelet read these objects, so the same checks also keep malformed input from ever
reaching them. Objects marked open (``...``) are checked only where declared.
"""

from __future__ import annotations

import re
from typing import Any

from opsgym.cluster.sim.status import ApiError

__all__ = ["QUANTITY_RE", "decode"]

QUANTITY_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
S, I, B, N, IS, Q, A = "string", "int32", "bool", "number", "IntOrString", "Quantity", "any"
MS, MQ = {"*": S}, {"*": Q}
OPEN = "..."

META = {"name": S, "generateName": S, "namespace": S, "labels": MS, "annotations": MS, "uid": S,
        "resourceVersion": S, "generation": I, "creationTimestamp": S, "deletionTimestamp": S,
        "deletionGracePeriodSeconds": I, "finalizers": [S], "managedFields": A, "selfLink": S,
        "ownerReferences": [{"apiVersion": S, "kind": S, "name": S, "uid": S, "controller": B,
                             "blockOwnerDeletion": B}]}
SELECTOR = {"matchLabels": MS, "matchExpressions": [{"key": S, "operator": S, "values": [S]}]}
KEY_REF = {"name": S, "key": S, "optional": B}
NAME_REF = {"name": S, "optional": B}
ENV = {"name": S, "value": S, "valueFrom": {
    "configMapKeyRef": KEY_REF, "secretKeyRef": KEY_REF, "fieldRef": {"apiVersion": S, "fieldPath": S},
    "resourceFieldRef": {"containerName": S, "resource": S, "divisor": Q}}}
PROBE = {"exec": {"command": [S]}, "httpGet": {"path": S, "port": IS, "host": S, "scheme": S,
                                                "httpHeaders": [{"name": S, "value": S}]},
         "tcpSocket": {"port": IS, "host": S}, "grpc": {"port": I, "service": S}, "initialDelaySeconds": I,
         "timeoutSeconds": I, "periodSeconds": I, "successThreshold": I, "failureThreshold": I,
         "terminationGracePeriodSeconds": I}
CONTAINER = {
    "name": S, "image": S, "command": [S], "args": [S], "workingDir": S,
    "ports": [{"name": S, "containerPort": I, "hostPort": I, "hostIP": S, "protocol": S}],
    "envFrom": [{"prefix": S, "configMapRef": NAME_REF, "secretRef": NAME_REF}], "env": [ENV],
    "resources": {"limits": MQ, "requests": MQ, "claims": A}, "resizePolicy": A, "restartPolicy": S,
    "volumeMounts": [{"name": S, "mountPath": S, "subPath": S, "subPathExpr": S, "readOnly": B,
                      "mountPropagation": S, "recursiveReadOnly": S}],
    "volumeDevices": A, "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE, "lifecycle": A,
    "terminationMessagePath": S, "terminationMessagePolicy": S, "imagePullPolicy": S, "securityContext": A,
    "stdin": B, "stdinOnce": B, "tty": B}
ITEMS = [{"key": S, "path": S, "mode": I}]
VOLUME = {OPEN: True, "name": S, "configMap": {"name": S, "items": ITEMS, "defaultMode": I, "optional": B},
          "secret": {"secretName": S, "items": ITEMS, "defaultMode": I, "optional": B}}
POD_SPEC = {
    "containers": [CONTAINER], "initContainers": [CONTAINER], "ephemeralContainers": A, "volumes": [VOLUME],
    "restartPolicy": S, "terminationGracePeriodSeconds": I, "activeDeadlineSeconds": I, "dnsPolicy": S,
    "nodeSelector": MS, "serviceAccountName": S, "serviceAccount": S, "automountServiceAccountToken": B,
    "nodeName": S, "hostNetwork": B, "hostPID": B, "hostIPC": B, "shareProcessNamespace": B, "securityContext": A,
    "imagePullSecrets": [{"name": S}], "hostname": S, "subdomain": S, "affinity": A, "schedulerName": S,
    "tolerations": A, "hostAliases": A, "priorityClassName": S, "priority": I, "dnsConfig": A,
    "readinessGates": [{"conditionType": S}], "runtimeClassName": S, "enableServiceLinks": B,
    "preemptionPolicy": S, "overhead": A, "topologySpreadConstraints": A, "setHostnameAsFQDN": B, "os": A,
    "hostUsers": B, "schedulingGates": A, "resourceClaims": A, "resources": A}
TEMPLATE = {"metadata": META, "spec": POD_SPEC}
INT_OR_PERCENT = IS
SERVICE_SPEC = {
    "ports": [{"name": S, "protocol": S, "appProtocol": S, "port": I, "targetPort": IS, "nodePort": I}],
    "selector": MS, "clusterIP": S, "clusterIPs": [S], "type": S, "externalIPs": [S], "sessionAffinity": S,
    "loadBalancerIP": S, "loadBalancerSourceRanges": [S], "externalName": S, "externalTrafficPolicy": S,
    "healthCheckNodePort": I, "publishNotReadyAddresses": B, "sessionAffinityConfig": A, "ipFamilies": [S],
    "ipFamilyPolicy": S, "allocateLoadBalancerNodePorts": B, "loadBalancerClass": S, "internalTrafficPolicy": S,
    "trafficDistribution": S}


def _top(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": S, "kind": S, "metadata": META, **fields}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Pod": _top(spec=POD_SPEC, status=A),
    "Deployment": _top(spec={"replicas": I, "selector": SELECTOR, "template": TEMPLATE, "minReadySeconds": I,
                             "strategy": {"type": S, "rollingUpdate": {"maxUnavailable": IS, "maxSurge": IS}},
                             "revisionHistoryLimit": I, "paused": B, "progressDeadlineSeconds": I}, status=A),
    "ReplicaSet": _top(spec={"replicas": I, "minReadySeconds": I, "selector": SELECTOR, "template": TEMPLATE},
                       status=A),
    "Service": _top(spec=SERVICE_SPEC, status=A),
    "ConfigMap": _top(data=MS, binaryData=MS, immutable=B),
    "Secret": _top(data=MS, stringData=MS, type=S, immutable=B),
    "Namespace": _top(spec=A, status=A),
    "Node": _top(spec=A, status=A),
    "Endpoints": _top(subsets=A),
    "ServiceAccount": _top(secrets=A, imagePullSecrets=A, automountServiceAccountToken=B),
    "Event": {OPEN: True, "apiVersion": S, "kind": S, "metadata": META},
    "Ingress": _top(spec=A, status=A),
    "Scale": _top(spec={"replicas": I}, status=A),
}

_JSON_NAMES = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


class _Decoder:
    def __init__(self, kind: str, strict: bool):
        self.kind, self.strict, self.unknown = kind, strict, []

    def fail(self, value: Any, want: str, path: str) -> ApiError:
        return ApiError.bad_request(
            f'{self.kind} in version "v1" cannot be handled as a {self.kind}: json: cannot unmarshal '
            f"{_JSON_NAMES.get(type(value), 'value')} into Go struct field {self.kind}.{path} of type {want}")

    def check(self, value: Any, schema: Any, path: str) -> Any:
        if value is None or schema == A:
            return value
        if isinstance(schema, list):
            if not isinstance(value, list):
                raise self.fail(value, "[]" + (schema[0] if isinstance(schema[0], str) else "object"), path)
            return [self.check(v, schema[0], f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(schema, dict):
            if not isinstance(value, dict):
                raise self.fail(value, "map" if "*" in schema else "object", path)
            if "*" in schema:
                return {str(k): self.check(v, schema["*"], f"{path}[{k}]") for k, v in value.items()}
            result = {}
            for key, item in value.items():
                if item is None:
                    continue
                if key in schema:
                    result[key] = self.check(item, schema[key], f"{path}.{key}" if path else key)
                elif schema.get(OPEN):
                    result[key] = item
                else:
                    self.unknown.append(f"{path}.{key}" if path else key)
            return result
        return self._scalar(value, schema, path)

    def _scalar(self, value: Any, schema: str, path: str) -> Any:
        if schema == S:
            if isinstance(value, str):
                return value
            raise self.fail(value, "string", path)
        if schema == B:
            if isinstance(value, bool):
                return value
            raise self.fail(value, "bool", path)
        if schema == I:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise self.fail(value, "int32", path)
        if schema == IS:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return value
            raise self.fail(value, "intstr.IntOrString", path)
        if schema == Q:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = str(int(value)) if float(value).is_integer() else str(value)
            if not isinstance(value, str) or not QUANTITY_RE.match(value.strip()):
                raise ApiError.bad_request(
                    f'{self.kind} in version "v1" cannot be handled as a {self.kind}: quantities must match the '
                    "regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
            return value.strip()
        return value


def decode(kind: str, obj: Any, validation: str = "Strict") -> tuple[dict[str, Any], list[str]]:
    """Check ``obj`` against ``kind``'s schema; return the cleaned object and warnings for dropped fields.

    Raises:
        ApiError: 400 for a wrong JSON type, a bad quantity, or an unknown field under ``Strict`` validation.
    """
    if not isinstance(obj, dict):
        raise ApiError.bad_request(f"the body of the request must be a JSON object (got {type(obj).__name__})")
    schema = SCHEMAS.get(kind)
    if schema is None:
        return obj, []
    decoder = _Decoder(kind, validation == "Strict")
    cleaned = decoder.check(obj, schema, "")
    if decoder.unknown and validation == "Strict":
        listing = ", ".join(f'unknown field "{f}"' for f in decoder.unknown)
        raise ApiError.bad_request(
            f'{kind} in version "v1" cannot be handled as a {kind}: strict decoding error: {listing}')
    if validation == "Ignore":
        return cleaned, []
    return cleaned, [f'unknown field "{f}"' for f in decoder.unknown]
