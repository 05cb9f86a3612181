"""The shop app: real manifests that the Kubernetes client accepts, and programs that behave as the tasks need."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient

from opsgym.runtime.sim import BASE_MEMORY_MB
from opsgym.sre.render import load_app, plan
from opsgym.tasks import envs_root, load_task

SHOP = envs_root() / "_apps" / "shop"
TASKS = {task.id: task for task in map(load_task, sorted(envs_root().glob("sre-[0-9]*")))}
"""The first three tasks, whose engine behaviour these tests pin down (the whole catalog: tests/sre/test_catalog.py)."""


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_every_rendered_object_round_trips_through_the_kubernetes_models(task_id):
    """Deserialising into the client's V1 models and back loses nothing, so no field is misspelt or misplaced."""
    api = ApiClient()
    for obj in plan(TASKS[task_id], 3).objects():
        model = api._ApiClient__deserialize(obj, f"V1{obj['kind']}")
        assert without_nulls(api.sanitize_for_serialization(model)) == obj, (obj["kind"], obj["metadata"]["name"])


def test_the_app_has_six_or_more_services_with_a_datastore_probes_and_limits():
    app = load_app(Path(SHOP).resolve())
    assert len(app.services) >= 6 and "kv" in app.services
    deployments = [o for o in app.objects if o["kind"] == "Deployment"]
    for dep in deployments:
        container = dep["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == "python:3.12-slim"
        assert container["command"] == ["python", f"/app/{dep['metadata']['name']}.py"]
        assert {"readinessProbe", "livenessProbe"} <= set(container)
        assert container["resources"]["limits"]["memory"].endswith("Mi")
    kinds = {o["kind"] for o in app.objects}
    assert {"Deployment", "Service", "ConfigMap", "Secret"} <= kinds
    assert "namespace" not in str([o["metadata"] for o in app.objects])


def test_the_programs_configmap_ships_every_program_and_the_runtime():
    app = load_app(Path(SHOP).resolve())
    assert set(app.programs()) == {f"{s}.py" for s in app.services} | {"opsgym_runtime.py"}


def test_dependencies_are_read_from_the_address_env():
    deps = load_app(Path(SHOP).resolve()).dependencies
    assert deps["frontend"] == {"catalog", "cart", "checkout"}
    assert deps["checkout"] == {"cart", "payment", "shipping"}
    assert deps["kv"] == frozenset()


def healthy_objects() -> list[dict[str, Any]]:
    """The app rendered without its fault (SRE-1's seed 0 with the fault patch left out)."""
    episode = plan(TASKS["SRE-1"], 0)
    episode.task = episode.task.model_copy(deep=True)
    episode.task.sre.fault[0].set = {"metadata.labels.healthy": "yes"}
    return episode.objects()


@pytest.mark.parametrize("service", sorted(load_app(Path(SHOP).resolve()).services))
def test_without_a_fault_every_service_serves_ready_within_its_limit(service, container_start):
    objects = healthy_objects()
    run = container_start(objects, service)
    assert (run.exit_code, run.ready, run.live) == (None, True, True), run.logs
    container = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == service)
    limit = container["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    assert run.memory_mb < float(limit[:-2]) / 1.5, "keep real headroom: on kind the interpreter is real"
    assert run.memory_mb > BASE_MEMORY_MB


def seed_per_case(task_id: str) -> dict[int, int]:
    """Case index → the first seed that draws it."""
    cases = TASKS[task_id].sre.cases
    found: dict[int, int] = {}
    for seed in range(500):
        variables = plan(TASKS[task_id], seed).variables
        index = next(i for i, c in enumerate(cases) if all(variables[k] == v for k, v in c.items()))
        found.setdefault(index, seed)
    return found


@pytest.mark.parametrize("task_id, expected", [("SRE-1", "Error"), ("SRE-2", "Error"), ("SRE-3", "OOMKilled")])
def test_every_case_makes_the_faulty_service_fail_on_start(task_id, expected, container_start):
    seeds = seed_per_case(task_id)
    assert sorted(seeds) == list(range(len(TASKS[task_id].sre.cases))), "500 seeds should draw every case"
    for seed in seeds.values():
        episode = plan(TASKS[task_id], seed)
        run = container_start(episode.objects(), episode.service, seed=seed)
        assert run.exit_code not in (None, 0) and run.reason == expected, (episode.variables, run.logs)


def test_a_shop_program_really_runs_with_the_shipped_runtime(tmp_path):
    """What kind runs: `python /app/cart.py` beside opsgym_runtime.py, probed over loopback."""
    import shutil
    import socket
    import subprocess
    import sys
    import urllib.request

    from opsgym.runtime import RUNTIME_FILE

    shutil.copy(SHOP / "programs" / "cart.py", tmp_path / "cart.py")
    shutil.copy(RUNTIME_FILE, tmp_path / "opsgym_runtime.py")
    with socket.socket() as kv, socket.socket() as spare:
        kv.bind(("127.0.0.1", 0))
        kv.listen()
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
        spare.close()
        env = {"PATH": "/usr/bin:/bin", "PORT": str(port), "KV_ADDR": f"127.0.0.1:{kv.getsockname()[1]}",
               "CACHE_MB": "8", "LOG_FORMAT": "json"}
        proc = subprocess.Popen([sys.executable, str(tmp_path / "cart.py")], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            messages = [json.loads(proc.stdout.readline())["msg"] for _ in range(3)]
            assert messages == ["cart starting", "connected to kv", "listening"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as resp:
                assert resp.status == 200
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        crash = subprocess.run([sys.executable, str(tmp_path / "cart.py")], env={**env, "MAX_ITEMS": "fifty"},
                               capture_output=True, text=True, timeout=60)
        assert crash.returncode == 1
        assert crash.stderr.rstrip().endswith("ValueError: invalid literal for int() with base 10: 'fifty'")
