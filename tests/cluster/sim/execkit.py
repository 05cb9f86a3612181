"""A small lab for ``kubectl exec`` and NetworkPolicy tests: two programs that answer requests (``front`` calls
``echo``), a toolbox pod per tool image, a mounted ConfigMap, and helpers around the real kubectl."""

from __future__ import annotations

import subprocess
from typing import Any

import yaml
from simkit import Kubectl

from opsgym.runtime import runtime_source
from opsgym.runtime.sim import trust

NS = "lab"
PROGRAMS = {
    "echo.py": ("import opsgym_runtime as rt\nrt.info('echo up')\n"
                "rt.serve(8080, routes={'/hello': lambda: {'msg': 'hi'}})\n"),
    "front.py": (
        "import opsgym_runtime as rt\n"
        "addr = rt.env('ECHO_ADDR', 'echo:8080')\n"
        "rt.dependency('echo', addr)\n"
        "rt.serve(8080, routes={'/page': lambda: {'calls': rt.call_all({'echo': (addr, '/hello')})}})\n"),
}
for _source in PROGRAMS.values():
    trust(_source)


def _program(name: str, env: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    container: dict[str, Any] = {
        "name": name, "image": "python:3.12-slim", "command": ["python", f"/app/{name}.py"],
        "ports": [{"name": "http", "containerPort": 8080}], "env": env or [],
        "volumeMounts": [{"name": "app", "mountPath": "/app"}, {"name": "settings", "mountPath": "/etc/lab"}]}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name, "tier": "lab"}},
                               "spec": {"containers": [container], "volumes": [
                                   {"name": "app", "configMap": {"name": "programs"}},
                                   {"name": "settings", "configMap": {"name": "settings"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
         "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": 8080, "targetPort": "http"}]}},
    ]


def toolbox(name: str, image: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS,
                                                            "labels": labels or {"app": name}},
            "spec": {"containers": [{"name": "main", "image": image, "command": ["sleep", "3600"]}]}}


def lab_objects() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "programs", "namespace": NS},
         "data": {**PROGRAMS, "opsgym_runtime.py": runtime_source()}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": NS},
         "data": {"greeting": "hello from the lab\n", "level": "debug"}},
        *_program("echo"),
        *_program("front", [{"name": "ECHO_ADDR", "value": "echo:8080"}, {"name": "STRICT_DEPENDENCIES",
                                                                             "value": "true"}]),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nobody", "namespace": NS},
         "spec": {"selector": {"app": "nobody"}, "ports": [{"port": 80}]}},
        toolbox("toolbox", "busybox:1.36"),
        toolbox("curler", "curlimages/curl:8.11.0"),
    ]


def pod_named(kubectl: Kubectl, app: str) -> str:
    return kubectl("get", "pods", "-n", NS, "-l", f"app={app}", "-o", "jsonpath={.items[0].metadata.name}")


def run(kubectl: Kubectl, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return kubectl.run("-n", NS, *args, stdin=stdin)


def lab_kubectl(cluster: Any, cache: Any) -> Kubectl:
    """kubectl for ``cluster`` with the lab (:func:`lab_objects`) applied and a virtual minute for it to start."""
    kubectl = Kubectl(cluster.kubeconfig, cache)
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(lab_objects()))
    cluster.advance(60)
    return kubectl
