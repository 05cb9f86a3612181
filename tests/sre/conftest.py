"""Fixtures for the SRE tests.

``scenarios`` holds one embedded-cluster scenario per SRE task for a test module (a reset reuses the cluster).

``container_start`` is a test double of a kubelet's container start: it runs a rendered Deployment's first
container through the sim runtime.

It resolves what a kubelet would hand the container (env and envFrom, mounted ConfigMap/Secret keys, the memory
limit) so the app's programs can be tested before and apart from the embedded cluster.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sre_episodes import TASKS

from opsgym.k8s.quantity import memory_mib
from opsgym.runtime.sim import ContainerRun, run_container
from opsgym.sre.scenario import SREScenario


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def start(objects: list[dict[str, Any]], deployment: str, *, seed: int = 0) -> ContainerRun:
    """Start the Deployment's first container as if every Service of the namespace were up."""
    dep = _find(objects, "Deployment", deployment)
    namespace = dep["metadata"]["namespace"]
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_find(objects, "ConfigMap", source["configMapRef"]["name"]).get("data", {}))
    env.update({e["name"]: e.get("value", "") for e in container.get("env", [])})
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    files: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            data = _find(objects, "ConfigMap", volume["configMap"]["name"]).get("data", {})
        else:
            raw = _find(objects, "Secret", volume["secret"]["secretName"]).get("data", {})
            data = {k: base64.b64decode(v).decode() for k, v in raw.items()}
        files.update({f"{mount['mountPath']}/{key}": text for key, text in data.items()})
    limit_text = container.get("resources", {}).get("limits", {}).get("memory")
    limit = memory_mib(limit_text) if limit_text else None
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}

    def lookup(host: str) -> bool:
        name, _, rest = host.partition(".")
        return name in services and rest in ("", namespace, f"{namespace}.svc", f"{namespace}.svc.cluster.local")

    def resolve(host: str, port: int) -> bool:
        return lookup(host) and any(p["port"] == port for p in services[host.partition(".")[0]]["spec"]["ports"])

    return run_container(command=[*container.get("command", []), *container.get("args", [])], env=env, files=files,
                         memory_limit_mb=limit, resolve=resolve, lookup=lookup, now=1_735_689_600.0, seed=seed)


@pytest.fixture
def container_start() -> Callable[..., ContainerRun]:
    return start


@pytest.fixture(scope="module")
def scenarios() -> Iterator[dict[str, SREScenario]]:
    made = {task_id: SREScenario(task, backend="sim", backend_options={}, perturbations=[])
            for task_id, task in TASKS.items()}
    yield made
    for scenario in made.values():
        scenario.close()
