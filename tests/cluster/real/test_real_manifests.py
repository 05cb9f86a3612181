"""Every SRE task renders objects a real API server accepts, for every fault case, and the checks catch what it rejects.

The embedded cluster is lenient where a real one is not; these checks are what keeps "it works on sim" equal to
"it applies on kind" without an engine.
"""

from __future__ import annotations

from typing import Any

import pytest

from opsgym.cluster.manifests import CONFIGMAP_LIMIT_BYTES, check_objects, images, model_for, problems
from opsgym.errors import TaskSpecError
from opsgym.sre.render import app_folder, load_app, plan
from opsgym.tasks import catalog_folders, load_task

TASKS = [t for t in (load_task(f) for f in catalog_folders()) if t.domain == "sre"]


def _seed_per_case(task: Any, search: int = 400) -> dict[int, int]:
    """A seed that picks each of the task's cases (plan() is cheap: nothing is rendered)."""
    found: dict[int, int] = {}
    for seed in range(search):
        case = plan(task, seed).variables
        index = next(i for i, c in enumerate(task.sre.cases) if all(case.get(k) == v for k, v in c.items()))
        found.setdefault(index, seed)
        if len(found) == len(task.sre.cases):
            break
    return found


def test_the_catalog_has_the_three_sre_tasks_the_kind_command_runs() -> None:
    assert {"SRE-1", "SRE-2", "SRE-3"} <= {t.id for t in TASKS}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_fault_case_renders_objects_a_real_api_server_accepts(task: Any) -> None:
    seeds = _seed_per_case(task)
    assert sorted(seeds) == list(range(len(task.sre.cases))), "some case is never drawn by a seed"
    for case, seed in seeds.items():
        episode = plan(task, seed)
        assert problems(episode.objects(fault=False)) == [], f"{task.id} case {case} (seed {seed}), pristine"
        objects = episode.objects()
        assert problems(objects, lint=False) == [], f"{task.id} case {case} (seed {seed})"
        for obj in objects:
            model_for(obj).model_validate(obj)  # strict: unknown fields and wrong types raise


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_the_images_pods_run_are_the_ones_the_app_lists_for_real_clusters_to_pull(task: Any) -> None:
    if "kind" not in task.backends:
        pytest.skip(f"{task.id} runs on {task.backends} only: kind never pulls its images")
    app = load_app(app_folder(task))
    assert app.images, f"{app.folder}/app.yaml lists no images, so kind would not know what to load"
    for seed in range(5):  # the pristine app's: a fault may be an image no registry has
        assert set(images(plan(task, seed).objects(fault=False))) <= set(app.images)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_the_fault_is_present_in_what_a_real_cluster_gets(task: Any) -> None:
    """What a real cluster gets differs from the pristine app (controls: it is the pristine app)."""
    episode = plan(task, 0)
    if task.sre.control:
        assert episode.objects() == episode.objects(fault=False)
    else:
        assert episode.objects() != episode.objects(fault=False), f"{task.id} carries no fault"


def _episode() -> list[dict[str, Any]]:
    return plan(next(t for t in TASKS if t.id == "SRE-1"), 0).objects()


def _find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def _container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return _find(objects, "Deployment", "cart")["spec"]["template"]["spec"]["containers"][0]


def _typo(objects: list[dict[str, Any]]) -> None:
    _container(objects)["imagee"] = "python:3.12-slim"


def _string_replicas(objects: list[dict[str, Any]]) -> None:
    _find(objects, "Deployment", "cart")["spec"]["replicas"] = "2"


def _bad_quantity(objects: list[dict[str, Any]]) -> None:
    _container(objects)["resources"]["limits"]["memory"] = "128MB"


def _request_over_limit(objects: list[dict[str, Any]]) -> None:
    _container(objects)["resources"]["requests"]["memory"] = "1Gi"


def _missing_configmap(objects: list[dict[str, Any]]) -> None:
    _container(objects)["envFrom"][0]["configMapRef"]["name"] = "no-such-config"


def _selector_mismatch(objects: list[dict[str, Any]]) -> None:
    _find(objects, "Deployment", "cart")["spec"]["selector"]["matchLabels"]["app"] = "basket"


def _unnamed_target_port(objects: list[dict[str, Any]]) -> None:
    _find(objects, "Service", "cart")["spec"]["ports"][0]["targetPort"] = "web"


def _huge_configmap(objects: list[dict[str, Any]]) -> None:
    _find(objects, "ConfigMap", "cart-config")["data"]["BLOB"] = "x" * CONFIGMAP_LIMIT_BYTES


def _bad_name(objects: list[dict[str, Any]]) -> None:
    _find(objects, "Service", "cart")["metadata"]["name"] = "Cart_Service"


def _other_namespace(objects: list[dict[str, Any]]) -> None:
    _find(objects, "ConfigMap", "cart-config")["metadata"]["namespace"] = "kube-system"


def _unknown_kind(objects: list[dict[str, Any]]) -> None:
    objects.append({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}})


@pytest.mark.parametrize(("break_it", "expected"), [
    (_typo, "imagee: Extra inputs are not permitted"),
    (_string_replicas, "spec.replicas: Input should be a valid integer"),
    (_bad_quantity, "'128MB' is not a Kubernetes quantity"),
    (_request_over_limit, "resources.requests.memory (1Gi) is above its limit"),
    (_missing_configmap, "envFrom ConfigMap 'no-such-config' is not defined"),
    (_selector_mismatch, "does not match the template's labels"),
    (_unnamed_target_port, "targetPort 'web' is not a port name"),
    (_huge_configmap, "the API server's limit is"),
    (_bad_name, "name is not a valid DNS label"),
    (_other_namespace, "namespace 'kube-system' is not one the objects create"),
    (_unknown_kind, "the kubernetes client has no model for it"),
], ids=lambda v: getattr(v, "__name__", "")[1:] if callable(v) else "")
def test_what_a_real_cluster_would_reject_is_named_with_its_object_and_field(break_it: Any, expected: str) -> None:
    objects = _episode()
    assert problems(objects) == []
    break_it(objects)
    found = problems(objects)
    assert any(expected in p for p in found), found
    with pytest.raises(TaskSpecError, match="would fail on a real cluster"):
        check_objects(objects)
