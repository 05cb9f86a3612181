"""Test kit for the embedded cluster: a small three-service app written against ``opsgym_runtime`` (run by the
real simulated runtime), a fake runtime for kubelet edge cases, and helpers to drive the engine directly or
through the real kubectl."""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import BY_KIND, lookup
from opsgym.runtime import runtime_source
from opsgym.runtime.sim import ContainerRun, trust

PROGRAMS = {
    "db.py": "import opsgym_runtime as rt\nrt.info('db accepting connections')\nrt.serve(5432)\n",
    "api.py": (
        "import opsgym_runtime as rt\n"
        "mode = rt.env('MODE', 'fast')\n"
        "if mode not in ('fast', 'safe'):\n"
        "    rt.fail(f'invalid MODE {mode!r}: expected fast or safe')\n"
        "rt.info('api starting', mode=mode)\n"
        "rt.dependency('db', rt.env('DB_ADDR', 'db:5432'))\n"
        "rt.serve(int(rt.env('PORT', '8080')))\n"),
    "web.py": "import opsgym_runtime as rt\nrt.info('web up')\nrt.serve(8080)\n",
}
for _source in PROGRAMS.values():
    trust(_source)


def _service(name: str, port: int, *, env: list[dict] | None = None, env_from: list[dict] | None = None,
             readiness: bool = True) -> list[dict[str, Any]]:
    container: dict[str, Any] = {"name": name, "image": "python:3.12-slim", "command": ["python", f"/app/{name}.py"],
                                 "ports": [{"name": "http", "containerPort": port}],
                                 "volumeMounts": [{"name": "app", "mountPath": "/app"}]}
    if env:
        container["env"] = env
    if env_from:
        container["envFrom"] = env_from
    if readiness:
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [container],
                                        "volumes": [{"name": "app", "configMap": {"name": "programs"}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
         "spec": {"selector": {"app": name}, "ports": [{"name": "http", "port": port, "targetPort": "http"}]}},
    ]


def app_objects(namespace: str = "shop", *, mode: str = "turbo") -> list[dict[str, Any]]:
    """Namespace, programs ConfigMap, db/api/web; ``mode`` other than fast/safe makes the api crash-loop."""
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "programs"},
         "data": {**PROGRAMS, "opsgym_runtime.py": runtime_source()}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config"}, "data": {"MODE": mode}},
        *_service("db", 5432),
        *_service("api", 8080, env=[{"name": "DB_ADDR", "value": "db:5432"}],
                  env_from=[{"configMapRef": {"name": "api-config"}}]),
        *_service("web", 8080, readiness=False),
    ]
    for obj in objects[1:]:
        obj["metadata"]["namespace"] = namespace
    return objects


def load(engine: Engine, objects: list[dict[str, Any]]) -> None:
    """Create ``objects`` through the engine's API and let controllers settle (no time passes)."""
    with engine.lock:
        for obj in objects:
            rt = BY_KIND[(obj["apiVersion"], obj["kind"])]
            engine.api.create(rt, obj["metadata"].get("namespace", "") if rt.namespaced else "", copy.deepcopy(obj))
        engine.reconcile()


def pods(engine: Engine, namespace: str, app: str | None = None) -> list[dict[str, Any]]:
    return [p for p in engine.store.items("pods", namespace)
            if app is None or (p["metadata"].get("labels") or {}).get("app") == app]


def container_status(pod: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return pod["status"]["containerStatuses"][index]


def events(engine: Engine, namespace: str, reason: str | None = None) -> list[dict[str, Any]]:
    return [e for e in engine.store.items("events", namespace) if reason is None or e["reason"] == reason]


@dataclass
class FakeRuntime:
    """A test double for ``run_container``: behaviour chosen by the container's ``BEHAVIOUR`` env var."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    overrides: dict[str, Callable[[dict[str, Any]], ContainerRun]] = field(default_factory=dict)

    def __call__(self, **kwargs: Any) -> ContainerRun:
        self.calls.append(kwargs)
        behaviour = kwargs["env"].get("BEHAVIOUR", "serve")
        if behaviour in self.overrides:
            return self.overrides[behaviour](kwargs)
        port = int(kwargs["env"].get("PORT", "8080"))
        return {
            "serve": ContainerRun(("serving",), None, "", 10.0, True, True, port),
            "crash": ContainerRun(("starting", "fatal: boom"), 1, "Error", 10.0, False, False, None),
            "done": ContainerRun(("all done",), 0, "Completed", 5.0, False, False, None),
            "oom": ContainerRun(("allocating",), 137, "OOMKilled", 64.0, False, False, None),
            "unready": ContainerRun(("waiting for upstream",), None, "", 10.0, False, True, port),
            "dead": ContainerRun(("wedged",), None, "", 10.0, True, False, port),
        }[behaviour]


def pod_manifest(name: str = "p", *, behaviour: str = "serve", namespace: str = "default",
                 **container: Any) -> dict[str, Any]:
    spec = {"name": "main", "image": "busybox:1.36", "env": [{"name": "BEHAVIOUR", "value": behaviour}], **container}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [spec]}}


def create(engine: Engine, obj: dict[str, Any]) -> dict[str, Any]:
    rt = BY_KIND[(obj["apiVersion"], obj["kind"])]
    with engine.lock:
        created, _ = engine.api.create(rt, obj["metadata"].get("namespace", "default") if rt.namespaced else "",
                                       copy.deepcopy(obj))
        engine.reconcile()
    return created


def get(engine: Engine, plural: str, name: str, namespace: str = "default") -> dict[str, Any]:
    obj = engine.store.get(plural, namespace if lookup(plural).namespaced else "", name)
    assert obj is not None, f"{plural}/{name} missing"
    return obj


class Kubectl:
    """Runs the real /usr/bin/kubectl against a kubeconfig (argv form, never a shell)."""

    def __init__(self, kubeconfig: Path, cache: Path):
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(cache)}

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", *args], env=self.env, capture_output=True, text=True, input=stdin,
                              timeout=60)

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        result = self.run(*args, stdin=stdin)
        assert result.returncode == 0, f"kubectl {' '.join(args)} failed: {result.stderr}"
        return result.stdout


def rows(text: str) -> list[list[str]]:
    """kubectl's table output as rows of whitespace-separated cells."""
    return [line.split() for line in text.splitlines()]
