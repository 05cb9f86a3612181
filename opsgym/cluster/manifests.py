"""Checking rendered objects the way a real API server and kubelet would, before a real cluster sees them.

The embedded cluster is forgiving where a real one is not: an unknown field, a quantity that does not parse, a
ConfigMap over 1 MiB or a Service whose named port no container declares all "work" there and fail on kind half-way
through an apply. These checks run on the rendered objects (no cluster needed), so a task's manifests are known to be
valid for a real cluster in CI, and a real backend refuses a bad episode before creating anything.

Schemas come from the ``kubernetes`` client itself: its models are strict pydantic models (unknown fields and wrong
types are errors), so validation is exactly the API's published schema for the client's version.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import kubernetes.client as k8s

from opsgym.errors import TaskSpecError
from opsgym.k8s.quantity import parse_quantity
from opsgym.k8s.selectors import Selector

__all__ = ["CONFIGMAP_LIMIT_BYTES", "check_objects", "images", "model_for", "problems"]

CONFIGMAP_LIMIT_BYTES = 1024 * 1024
"""The API server rejects a ConfigMap whose data is larger than this (etcd's object limit)."""

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAMED = {"Namespace", "Service", "Deployment"}
"""Kinds whose names must be DNS labels (they become DNS names or pod name prefixes), not just subdomains."""


def model_for(obj: dict[str, Any]) -> type[Any]:
    """The kubernetes-client model class for ``obj``'s apiVersion and kind (``apps/v1`` Deployment → V1Deployment)."""
    api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
    group, _, version = api_version.rpartition("/")
    prefix = version[:1].upper() + version[1:]
    group_prefix = (group.split(".")[0] if group else "core").capitalize()
    for name in (f"{prefix}{kind}", f"{group_prefix}{prefix}{kind}"):
        model = getattr(k8s, name, None)
        if isinstance(model, type) and getattr(model, "model_validate", None) is not None:
            return model
    raise TaskSpecError(f"{kind or '(no kind)'} {api_version or '(no apiVersion)'}: the kubernetes client has no "
                        "model for it; use a built-in kind and a served apiVersion (e.g. apps/v1 Deployment)")


def _schema(obj: dict[str, Any], where: str) -> list[str]:
    try:
        model = model_for(obj)
    except TaskSpecError as exc:
        return [str(exc)]
    try:
        model.model_validate(obj)
    except ValueError as exc:  # pydantic.ValidationError
        errors: list[dict[str, Any]] = getattr(exc, "errors", lambda: [])()
        return [f"{where}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors] or [f"{where}: {exc}"]
    return []


def _pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        return [spec]
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") or {}
    return [template.get("spec") or {}] if template else []


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def images(objects: Iterable[dict[str, Any]]) -> list[str]:
    """Every container image the objects' pod templates run (what a real cluster must pull), sorted."""
    return sorted({c["image"] for o in objects for pod in _pod_templates(o) for c in _containers(pod)
                   if c.get("image")})


def _resources(container: dict[str, Any], where: str) -> list[str]:
    out: list[str] = []
    resources = container.get("resources") or {}
    parsed: dict[str, dict[str, Any]] = {}
    for section in ("requests", "limits"):
        for name, value in (resources.get(section) or {}).items():
            try:
                parsed.setdefault(section, {})[name] = parse_quantity(value)
            except ValueError:
                out.append(f"{where}: resources.{section}.{name}: {value!r} is not a Kubernetes quantity")
    for name, request in parsed.get("requests", {}).items():
        limit = parsed.get("limits", {}).get(name)
        if limit is not None and request > limit:
            out.append(f"{where}: resources.requests.{name} ({resources['requests'][name]}) is above its limit "
                       f"({resources['limits'][name]}); the API server rejects that")
    return out


def _pod_problems(pod: dict[str, Any], where: str, configmaps: dict[str, dict[str, Any]], lint: bool) -> list[str]:
    out: list[str] = []
    volumes = {v.get("name"): v for v in pod.get("volumes", [])}
    names = [c.get("name") for c in _containers(pod)]
    out += [f"{where}: container name {n!r} is used twice" for n in set(names) if names.count(n) > 1]
    for container in _containers(pod):
        at = f"{where} container {container.get('name')!r}"
        if not container.get("image"):
            out.append(f"{at}: no image")
        out += _resources(container, at)
        out += [f"{at}: volumeMount {m.get('name')!r} names no volume of the pod"
                for m in container.get("volumeMounts", []) if m.get("name") not in volumes]
    return out + (_never_ready(pod, where, configmaps, volumes) if lint else [])


def _never_ready(pod: dict[str, Any], where: str, configmaps: dict[str, dict[str, Any]],
                 volumes: dict[str, Any]) -> list[str]:
    """What a real API server accepts but no pod would ever get ready with (a fault may be exactly this)."""
    out: list[str] = []
    for volume in volumes.values():
        ref = volume.get("configMap") or {}
        if ref and ref.get("name") not in configmaps and not ref.get("optional"):
            out.append(f"{where}: volume {volume['name']!r} mounts ConfigMap {ref.get('name')!r}, which no object "
                       "defines (pods would stay in ContainerCreating)")
    for container in _containers(pod):
        at = f"{where} container {container.get('name')!r}"
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or {}
            if ref and ref.get("name") not in configmaps and not ref.get("optional"):
                out.append(f"{at}: envFrom ConfigMap {ref.get('name')!r} is not defined")
        ports = {p.get("name") for p in container.get("ports", []) if p.get("name")}
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            port = ((container.get(probe) or {}).get("httpGet") or {}).get("port")
            if isinstance(port, str) and port not in ports:
                out.append(f"{at}: {probe} uses port {port!r}, which the container does not name")
    return out


def _service_problems(service: dict[str, Any], where: str, pods: list[tuple[dict[str, str], dict[str, Any]]]) \
        -> list[str]:
    selector = (service.get("spec") or {}).get("selector") or {}
    if not selector:
        return []
    matching = [pod for labels, pod in pods if all(labels.get(k) == v for k, v in selector.items())]
    if not matching:
        return [f"{where}: selector {selector} matches no pod template, so it would have no endpoints"]
    named = {p.get("name") for pod in matching for c in pod.get("containers", []) for p in c.get("ports", [])}
    return [f"{where}: targetPort {p['targetPort']!r} is not a port name of the pods it selects"
            for p in service["spec"].get("ports", []) if isinstance(p.get("targetPort"), str)
            and p["targetPort"] not in named]


def problems(objects: list[dict[str, Any]], *, lint: bool = True) -> list[str]:
    """Everything a real cluster would reject or (``lint``) never make ready, as messages naming the object and field.

    A task's pristine app must pass both; its faulty render only the rejections, since what never gets ready (a
    Service selecting no pod, a probe on a port the container does not name, a ConfigMap that is not there) may be the
    fault itself.
    """
    out: list[str] = []
    namespaces = [o["metadata"]["name"] for o in objects if o.get("kind") == "Namespace"]
    configmaps = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ConfigMap"}
    pods: list[tuple[dict[str, str], dict[str, Any]]] = []
    for obj in objects:
        for pod in _pod_templates(obj):
            labels = ((obj.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {}
            pods.append((labels, pod))
    for index, obj in enumerate(objects):
        meta = obj.get("metadata") or {}
        where = f"{obj.get('kind', '?')} {meta.get('name', f'#{index}')!r}"
        out += _schema(obj, where)
        name = str(meta.get("name", ""))
        pattern = DNS_LABEL if obj.get("kind") in LABEL_NAMED else DNS_SUBDOMAIN
        if not pattern.match(name):
            out.append(f"{where}: name is not a valid DNS {'label' if pattern is DNS_LABEL else 'subdomain'}")
        if obj.get("kind") != "Namespace" and namespaces and meta.get("namespace") not in namespaces:
            out.append(f"{where}: namespace {meta.get('namespace')!r} is not one the objects create ({namespaces})")
        if obj.get("kind") == "ConfigMap":
            size = sum(len(str(k)) + len(str(v).encode()) for k, v in (obj.get("data") or {}).items())
            if size > CONFIGMAP_LIMIT_BYTES:
                out.append(f"{where}: data is {size} bytes; the API server's limit is {CONFIGMAP_LIMIT_BYTES}")
        for pod in _pod_templates(obj):
            out += _pod_problems(pod, where, configmaps, lint)
        spec = obj.get("spec") or {}
        if obj.get("kind") in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if not Selector.from_object(spec.get("selector")).matches(labels):
                out.append(f"{where}: spec.selector {selector} does not match the template's labels {labels}")
        if obj.get("kind") == "Service" and lint:
            out += _service_problems(obj, where, pods)
    return out


def check_objects(objects: list[dict[str, Any]], what: str = "the rendered objects", *, lint: bool = True) -> None:
    """Raise :class:`TaskSpecError` listing every problem, so a real cluster never gets a half-valid episode."""
    found = problems(objects, lint=lint)
    if found:
        listing = "\n  ".join(found[:20]) + (f"\n  … and {len(found) - 20} more" if len(found) > 20 else "")
        raise TaskSpecError(f"{what} would fail on a real cluster:\n  {listing}\nFix the task's manifests or patches.")
