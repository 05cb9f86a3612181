"""What a container is started with, worked out the way the kubelet does: its environment (service links,
``envFrom``, ``env`` with ``valueFrom``), its argv with ``$(VAR)`` expansion, the files of its configMap/secret
volumes, and whether a TCP connection to ``host:port`` would reach a ready endpoint through cluster DNS.

Objects are read through :class:`Objects`: the simulator's store, or the SRE judge's view of any cluster's API (which
works out the same things to run the programs of a live cluster's end state).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any, Protocol

from opsgym.k8s.quantity import quantity_or

__all__ = ["ConfigError", "Objects", "command_line", "find_service", "lookup", "missing_volumes", "mounted_files",
           "resolve_env", "resolver"]

Obj = dict[str, Any]


class Objects(Protocol):
    """Read access to stored objects by plural (``configmaps``, ``services`` …), as the simulator's store offers it."""

    def get(self, plural: str, namespace: str, name: str) -> Obj | None: ...

    def items(self, plural: str, namespace: str | None = None) -> list[Obj]: ...

_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ConfigError(Exception):
    """A referenced ConfigMap, Secret or key is missing: the kubelet's CreateContainerConfigError."""


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: unknown references stay as written and ``$$`` escapes a ``$``."""
    return _VAR.sub(lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def _decode(value: str) -> str:
    try:
        return base64.b64decode(value).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def _source(store: Objects, namespace: str, kind: str, name: str) -> dict[str, str] | None:
    """The string data of a ConfigMap or Secret (secrets decoded), or None if it does not exist."""
    if kind == "configmap":
        obj = store.get("configmaps", namespace, name)
        if obj is None:
            return None
        data = dict(obj.get("data") or {})
        data.update({k: _decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return data
    obj = store.get("secrets", namespace, name)
    return None if obj is None else {k: _decode(v) for k, v in (obj.get("data") or {}).items()}


def _service_links(store: Objects, namespace: str) -> dict[str, str]:
    env: dict[str, str] = {}
    services = [s for s in store.items("services", namespace)]
    kube = store.get("services", "default", "kubernetes")
    for svc in ([kube] if kube else []) + services:
        spec = svc.get("spec") or {}
        ip, ports = spec.get("clusterIP"), spec.get("ports") or []
        if not ip or ip == "None" or not ports:
            continue
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        env[f"{prefix}_PORT"] = f"{ports[0].get('protocol', 'TCP').lower()}://{ip}:{ports[0].get('port')}"
    return env


def resolve_env(store: Objects, pod: Obj, container: Obj, pod_ip: str) -> dict[str, str]:
    """The container's environment in the kubelet's order (service links, envFrom, env).

    Raises:
        ConfigError: a referenced object or key is missing and not optional.
    """
    namespace = pod["metadata"]["namespace"]
    env = _service_links(store, namespace) if (pod.get("spec") or {}).get("enableServiceLinks", True) else {}
    for source in container.get("envFrom") or []:
        for kind, field in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = source.get(field)
            if not ref:
                continue
            data = _source(store, namespace, kind, ref.get("name", ""))
            if data is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
            for key, value in data.items():
                name = source.get("prefix", "") + key
                if _ENV_NAME.match(name):
                    env[name] = value
    for var in container.get("env") or []:
        name = var.get("name", "")
        if "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), env)
            continue
        resolved = _value_from(store, pod, container, var["valueFrom"], pod_ip)
        if resolved is not None:
            env[name] = resolved
    return env


def _value_from(store: Objects, pod: Obj, container: Obj, source: Obj, pod_ip: str) -> str | None:
    namespace = pod["metadata"]["namespace"]
    for kind, field, label in (("configmap", "configMapKeyRef", "ConfigMap"), ("secret", "secretKeyRef", "Secret")):
        ref = source.get(field)
        if ref is None:
            continue
        data = _source(store, namespace, kind, ref.get("name", ""))
        if data is None:
            if ref.get("optional"):
                return None
            raise ConfigError(f'{kind} "{ref.get("name", "")}" not found')
        if ref.get("key") not in data:
            if ref.get("optional"):
                return None
            raise ConfigError(f"couldn't find key {ref.get('key')} in {label} {namespace}/{ref.get('name')}")
        return data[ref["key"]]
    if "fieldRef" in source:
        path = source["fieldRef"].get("fieldPath", "")
        meta, spec = pod["metadata"], pod.get("spec") or {}
        match = _FIELD.match(path)
        if match:
            return (meta.get(match.group(1)) or {}).get(match.group(2), "")
        values = {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"],
                  "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
                  "spec.serviceAccountName": spec.get("serviceAccountName", ""), "status.podIP": pod_ip,
                  "status.podIPs": pod_ip, "status.hostIP": "", "status.hostIPs": ""}
        return values.get(path, "")
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"]
        target = next((c for c in pod["spec"].get("containers") or [] if c.get("name") == ref.get("containerName")),
                      container)
        kind, _, resource = (ref.get("resource") or "limits.cpu").partition(".")
        amount = quantity_or(((target.get("resources") or {}).get(kind) or {}).get(resource, 0), 0.0)
        divisor = quantity_or(ref.get("divisor", "1"), 0.0) or 1.0
        return str(max(1, int(-(-amount // divisor)))) if amount else "0"
    return None


def command_line(container: Obj, env: dict[str, str]) -> list[str]:
    """``command`` + ``args`` with ``$(VAR)`` references expanded."""
    return [expand(part, env) for part in (container.get("command") or []) + (container.get("args") or [])]


def _volume_data(store: Objects, namespace: str, volume: Obj) -> tuple[dict[str, str] | None, Obj]:
    if "configMap" in volume:
        ref = volume["configMap"] or {}
        return _source(store, namespace, "configmap", ref.get("name", "")), ref
    if "secret" in volume:
        ref = volume["secret"] or {}
        return _source(store, namespace, "secret", ref.get("secretName", "")), ref
    return {}, {}


def missing_volumes(store: Objects, pod: Obj) -> list[str]:
    """FailedMount messages for configMap/secret volumes whose object is missing (and not optional)."""
    problems = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        data, ref = _volume_data(store, pod["metadata"]["namespace"], volume)
        if ref.get("optional"):
            continue
        kind = "configmap" if "configMap" in volume else "secret"
        prefix = f'MountVolume.SetUp failed for volume "{volume.get("name")}" : '
        if data is None:
            problems.append(f'{prefix}{kind} "{ref.get("name") or ref.get("secretName")}" not found')
            continue
        missing = next((i.get("key") for i in ref.get("items") or [] if i.get("key") not in data), None)
        if missing is not None:
            problems.append(prefix + (f"configmap references non-existent config key: {missing}"
                                      if kind == "configmap" else f"references non-existent secret key: {missing}"))
    return problems


def mounted_files(store: Objects, pod: Obj, container: Obj) -> dict[str, str]:
    """Absolute path → content for the container's configMap/secret mounts (``items`` and ``subPath`` honoured)."""
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(mount.get("name"))
        if volume is None:
            continue
        data, ref = _volume_data(store, pod["metadata"]["namespace"], volume)
        if not data:
            continue
        items = ref.get("items")
        layout = {i.get("path", i.get("key")): data[i["key"]] for i in items if i.get("key") in data} if items \
            else dict(data)
        root = mount.get("mountPath", "/").rstrip("/")
        sub = mount.get("subPath")
        if sub:
            if sub in layout:
                files[root or "/"] = layout[sub]
            continue
        for path, content in layout.items():
            files[f"{root}/{path}"] = content
    return files


def find_service(store: Objects, namespace: str, host: str) -> Obj | None:
    """The Service a cluster DNS name (or cluster IP) points at, from a pod in ``namespace``."""
    host = str(host).lower().rstrip(".")
    for suffix in (".svc.cluster.local", ".svc"):
        if host.endswith(suffix):
            host = host[: -len(suffix)]
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", host):
        return next((s for s in store.items("services") if (s.get("spec") or {}).get("clusterIP") == host), None)
    name, _, ns = host.partition(".")
    return store.get("services", ns or namespace, name) if name and "." not in ns else None


def lookup(store: Objects, namespace: str) -> Callable[[str], bool]:
    """``lookup(host)``: does the name resolve at all (a Service of that name exists)?"""
    return lambda host: find_service(store, namespace, host) is not None


def resolver(store: Objects, namespace: str,
             listening: Callable[[Obj, int], bool] | None = None) -> Callable[[str, int], bool]:
    """``resolve(host, port)``: would a TCP connect from a pod in ``namespace`` reach a ready endpoint? With
    ``listening(address, port)``, only one whose pod listens on the endpoint's port (kube-proxy forwards to a port
    nothing listens on, and the connect is refused)."""

    def resolve(host: str, port: int) -> bool:
        svc = find_service(store, namespace, host)
        if svc is None:
            return False
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return False
        endpoints = store.get("endpoints", svc["metadata"]["namespace"], svc["metadata"]["name"]) or {}
        headless = spec.get("clusterIP") == "None"
        wanted = next((p for p in spec.get("ports") or [] if p.get("port") == int(port)), None)
        if wanted is None and not headless:
            return False
        for subset in endpoints.get("subsets") or []:
            if not subset.get("addresses"):
                continue
            for entry in subset.get("ports") or []:
                if (headless and entry.get("port") == int(port)) or \
                        (wanted is not None and (entry.get("name") or "") == (wanted.get("name") or "")):
                    if listening is None or any(listening(a, int(entry.get("port") or 0)) for a in subset["addresses"]):
                        return True
        return False

    return resolve
