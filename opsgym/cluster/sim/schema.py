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
STR, INT, BOOL, INTSTR, QTY, ANY = "string", "int32", "bool", "IntOrString", "Quantity", "any"
MS, MQ = {"*": STR}, {"*": QTY}
OPEN = "..."

META = {"name": STR, "generateName": STR, "namespace": STR, "labels": MS, "annotations": MS, "uid": STR,
        "resourceVersion": STR, "generation": INT, "creationTimestamp": STR, "deletionTimestamp": STR,
        "deletionGracePeriodSeconds": INT, "finalizers": [STR], "managedFields": ANY, "selfLink": STR,
        "ownerReferences": [{"apiVersion": STR, "kind": STR, "name": STR, "uid": STR, "controller": BOOL,
                             "blockOwnerDeletion": BOOL}]}
SELECTOR = {"matchLabels": MS, "matchExpressions": [{"key": STR, "operator": STR, "values": [STR]}]}
KEY_REF = {"name": STR, "key": STR, "optional": BOOL}
NAME_REF = {"name": STR, "optional": BOOL}
ENV = {"name": STR, "value": STR, "valueFrom": {
    "configMapKeyRef": KEY_REF, "secretKeyRef": KEY_REF, "fieldRef": {"apiVersion": STR, "fieldPath": STR},
    "resourceFieldRef": {"containerName": STR, "resource": STR, "divisor": QTY}}}
PROBE = {"exec": {"command": [STR]}, "httpGet": {"path": STR, "port": INTSTR, "host": STR, "scheme": STR,
                                                "httpHeaders": [{"name": STR, "value": STR}]},
         "tcpSocket": {"port": INTSTR, "host": STR}, "grpc": {"port": INT, "service": STR}, "initialDelaySeconds": INT,
         "timeoutSeconds": INT, "periodSeconds": INT, "successThreshold": INT, "failureThreshold": INT,
         "terminationGracePeriodSeconds": INT}
CONTAINER = {
    "name": STR, "image": STR, "command": [STR], "args": [STR], "workingDir": STR,
    "ports": [{"name": STR, "containerPort": INT, "hostPort": INT, "hostIP": STR, "protocol": STR}],
    "envFrom": [{"prefix": STR, "configMapRef": NAME_REF, "secretRef": NAME_REF}], "env": [ENV],
    "resources": {"limits": MQ, "requests": MQ, "claims": ANY}, "resizePolicy": ANY, "restartPolicy": STR,
    "volumeMounts": [{"name": STR, "mountPath": STR, "subPath": STR, "subPathExpr": STR, "readOnly": BOOL,
                      "mountPropagation": STR, "recursiveReadOnly": STR}],
    "volumeDevices": ANY, "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE, "lifecycle": ANY,
    "terminationMessagePath": STR, "terminationMessagePolicy": STR, "imagePullPolicy": STR, "securityContext": ANY,
    "stdin": BOOL, "stdinOnce": BOOL, "tty": BOOL}
ITEMS = [{"key": STR, "path": STR, "mode": INT}]
VOLUME = {OPEN: True, "name": STR, "configMap": {"name": STR, "items": ITEMS, "defaultMode": INT, "optional": BOOL},
          "secret": {"secretName": STR, "items": ITEMS, "defaultMode": INT, "optional": BOOL}}
POD_SPEC = {
    "containers": [CONTAINER], "initContainers": [CONTAINER], "ephemeralContainers": ANY, "volumes": [VOLUME],
    "restartPolicy": STR, "terminationGracePeriodSeconds": INT, "activeDeadlineSeconds": INT, "dnsPolicy": STR,
    "nodeSelector": MS, "serviceAccountName": STR, "serviceAccount": STR, "automountServiceAccountToken": BOOL,
    "nodeName": STR, "hostNetwork": BOOL, "hostPID": BOOL, "hostIPC": BOOL, "shareProcessNamespace": BOOL,
    "securityContext": ANY,
    "imagePullSecrets": [{"name": STR}], "hostname": STR, "subdomain": STR, "affinity": ANY, "schedulerName": STR,
    "tolerations": ANY, "hostAliases": ANY, "priorityClassName": STR, "priority": INT, "dnsConfig": ANY,
    "readinessGates": [{"conditionType": STR}], "runtimeClassName": STR, "enableServiceLinks": BOOL,
    "preemptionPolicy": STR, "overhead": ANY, "topologySpreadConstraints": ANY, "setHostnameAsFQDN": BOOL, "os": ANY,
    "hostUsers": BOOL, "schedulingGates": ANY, "resourceClaims": ANY, "resources": ANY}
TEMPLATE = {"metadata": META, "spec": POD_SPEC}
SERVICE_SPEC = {
    "ports": [{"name": STR, "protocol": STR, "appProtocol": STR, "port": INT, "targetPort": INTSTR, "nodePort": INT}],
    "selector": MS, "clusterIP": STR, "clusterIPs": [STR], "type": STR, "externalIPs": [STR], "sessionAffinity": STR,
    "loadBalancerIP": STR, "loadBalancerSourceRanges": [STR], "externalName": STR, "externalTrafficPolicy": STR,
    "healthCheckNodePort": INT, "publishNotReadyAddresses": BOOL, "sessionAffinityConfig": ANY, "ipFamilies": [STR],
    "ipFamilyPolicy": STR, "allocateLoadBalancerNodePorts": BOOL, "loadBalancerClass": STR,
    "internalTrafficPolicy": STR, "trafficDistribution": STR}
TARGET = {"type": STR, "value": QTY, "averageValue": QTY, "averageUtilization": INT}
METRIC = {"name": STR, "selector": SELECTOR}
HPA_RULES = {"stabilizationWindowSeconds": INT, "selectPolicy": STR,
             "policies": [{"type": STR, "value": INT, "periodSeconds": INT}]}
HPA_SPEC = {
    "scaleTargetRef": {"apiVersion": STR, "kind": STR, "name": STR}, "minReplicas": INT, "maxReplicas": INT,
    "metrics": [{"type": STR, "resource": {"name": STR, "target": TARGET},
                 "containerResource": {"name": STR, "container": STR, "target": TARGET},
                 "pods": {"metric": METRIC, "target": TARGET}, "external": {"metric": METRIC, "target": TARGET},
                 "object": {"describedObject": {"apiVersion": STR, "kind": STR, "name": STR}, "metric": METRIC,
                            "target": TARGET}}],
    "behavior": {"scaleUp": HPA_RULES, "scaleDown": HPA_RULES}}
CLAIM_SPEC = {"accessModes": [STR], "selector": SELECTOR, "resources": {"limits": MQ, "requests": MQ},
              "volumeName": STR, "storageClassName": STR, "volumeMode": STR, "dataSource": ANY, "dataSourceRef": ANY,
              "volumeAttributesClassName": STR}
NODE_TERM = [{"key": STR, "operator": STR, "values": [STR]}]
VOLUME_SPEC = {OPEN: True, "capacity": MQ, "accessModes": [STR], "persistentVolumeReclaimPolicy": STR,
               "storageClassName": STR, "mountOptions": [STR], "volumeMode": STR, "volumeAttributesClassName": STR,
               "claimRef": {"kind": STR, "namespace": STR, "name": STR, "uid": STR, "apiVersion": STR,
                            "resourceVersion": STR, "fieldPath": STR},
               "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": NODE_TERM,
                                                                    "matchFields": NODE_TERM}]}}}
"""Volume sources (hostPath, local, nfs, csi …) stay open: the simulator reads none of them."""

JOB_SPEC = {"parallelism": INT, "completions": INT, "activeDeadlineSeconds": INT, "podFailurePolicy": ANY,
            "successPolicy": ANY, "backoffLimit": INT, "backoffLimitPerIndex": INT, "maxFailedIndexes": INT,
            "selector": SELECTOR, "manualSelector": BOOL, "template": TEMPLATE, "ttlSecondsAfterFinished": INT,
            "completionMode": STR, "suspend": BOOL, "podReplacementPolicy": STR, "managedBy": STR}


def _top(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": STR, "kind": STR, "metadata": META, **fields}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Pod": _top(spec=POD_SPEC, status=ANY),
    "Deployment": _top(spec={"replicas": INT, "selector": SELECTOR, "template": TEMPLATE, "minReadySeconds": INT,
                             "strategy": {"type": STR, "rollingUpdate": {"maxUnavailable": INTSTR, "maxSurge": INTSTR}},
                             "revisionHistoryLimit": INT, "paused": BOOL, "progressDeadlineSeconds": INT}, status=ANY),
    "ReplicaSet": _top(spec={"replicas": INT, "minReadySeconds": INT, "selector": SELECTOR, "template": TEMPLATE},
                       status=ANY),
    "Service": _top(spec=SERVICE_SPEC, status=ANY),
    "ConfigMap": _top(data=MS, binaryData=MS, immutable=BOOL),
    "Secret": _top(data=MS, stringData=MS, type=STR, immutable=BOOL),
    "Namespace": _top(spec=ANY, status=ANY),
    "Node": _top(spec=ANY, status=ANY),
    "Endpoints": _top(subsets=ANY),
    "ServiceAccount": _top(secrets=ANY, imagePullSecrets=ANY, automountServiceAccountToken=BOOL),
    "Event": {OPEN: True, "apiVersion": STR, "kind": STR, "metadata": META},
    "Ingress": _top(spec=ANY, status=ANY),
    "Scale": _top(spec={"replicas": INT}, status=ANY),
    "StatefulSet": _top(spec={"replicas": INT, "selector": SELECTOR, "template": TEMPLATE, "serviceName": STR,
                              "volumeClaimTemplates": [_top(spec=CLAIM_SPEC, status=ANY)], "podManagementPolicy": STR,
                              "updateStrategy": {"type": STR, "rollingUpdate": {"partition": INT,
                                                                                "maxUnavailable": INTSTR}},
                              "revisionHistoryLimit": INT, "minReadySeconds": INT, "ordinals": {"start": INT},
                              "persistentVolumeClaimRetentionPolicy": {"whenDeleted": STR, "whenScaled": STR}},
                        status=ANY),
    "DaemonSet": _top(spec={"selector": SELECTOR, "template": TEMPLATE, "minReadySeconds": INT,
                            "updateStrategy": {"type": STR, "rollingUpdate": {"maxUnavailable": INTSTR,
                                                                              "maxSurge": INTSTR}},
                            "revisionHistoryLimit": INT}, status=ANY),
    "Job": _top(spec=JOB_SPEC, status=ANY),
    "CronJob": _top(spec={"schedule": STR, "timeZone": STR, "startingDeadlineSeconds": INT, "concurrencyPolicy": STR,
                          "suspend": BOOL, "jobTemplate": {"metadata": META, "spec": JOB_SPEC},
                          "successfulJobsHistoryLimit": INT, "failedJobsHistoryLimit": INT}, status=ANY),
    "HorizontalPodAutoscaler": _top(spec=HPA_SPEC, status=ANY),
    "PersistentVolumeClaim": _top(spec=CLAIM_SPEC, status=ANY),
    "PersistentVolume": _top(spec=VOLUME_SPEC, status=ANY),
    "StorageClass": _top(provisioner=STR, parameters=MS, reclaimPolicy=STR, mountOptions=[STR],
                         allowVolumeExpansion=BOOL, volumeBindingMode=STR, allowedTopologies=ANY),
    "PodDisruptionBudget": _top(spec={"minAvailable": INTSTR, "maxUnavailable": INTSTR, "selector": SELECTOR,
                                      "unhealthyPodEvictionPolicy": STR}, status=ANY),
    "Eviction": _top(deleteOptions={"kind": STR, "apiVersion": STR, "gracePeriodSeconds": INT,
                                    "preconditions": {"uid": STR, "resourceVersion": STR}, "orphanDependents": BOOL,
                                    "propagationPolicy": STR, "dryRun": [STR],
                                    "ignoreStoreReadErrorWithClusterBreakingPotential": BOOL}),
}

_JSON_NAMES = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}


def _zero(schema: Any) -> Any:
    """Go's zero value for a field of ``schema`` (what a JSON ``null`` inside a list or map decodes to)."""
    if isinstance(schema, dict):
        return {}
    if isinstance(schema, list):
        return []
    return {STR: "", INT: 0, BOOL: False, INTSTR: 0, QTY: "0"}.get(schema)


class _Decoder:
    def __init__(self, kind: str, strict: bool):
        self.kind, self.strict = kind, strict
        self.unknown: list[str] = []

    def fail(self, value: Any, want: str, path: str) -> ApiError:
        return ApiError.bad_request(
            f'{self.kind} in version "v1" cannot be handled as a {self.kind}: json: cannot unmarshal '
            f"{_JSON_NAMES.get(type(value), 'value')} into Go struct field {self.kind}.{path} of type {want}")

    def check(self, value: Any, schema: Any, path: str) -> Any:
        if value is None or schema == ANY:
            return value
        if isinstance(schema, list):
            if not isinstance(value, list):
                raise self.fail(value, "[]" + (schema[0] if isinstance(schema[0], str) else "object"), path)
            items = [_zero(schema[0]) if v is None else self.check(v, schema[0], f"{path}[{i}]")
                     for i, v in enumerate(value)]
            return [v for v in items if v is not None]
        if isinstance(schema, dict):
            if not isinstance(value, dict):
                raise self.fail(value, "map" if "*" in schema else "object", path)
            if "*" in schema:  # a Go map: a null value decodes to the zero value
                return {str(k): _zero(schema["*"]) if v is None else self.check(v, schema["*"], f"{path}[{k}]")
                        for k, v in value.items()}
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
        if schema == STR:
            if isinstance(value, str):
                return value
            raise self.fail(value, "string", path)
        if schema == BOOL:
            if isinstance(value, bool):
                return value
            raise self.fail(value, "bool", path)
        if schema == INT:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise self.fail(value, "int32", path)
        if schema == INTSTR:
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, (int, str)) and not isinstance(value, bool):
                return value
            raise self.fail(value, "intstr.IntOrString", path)
        if schema == QTY:
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
