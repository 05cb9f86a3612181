"""Rendering an episode: seeds vary the incident, the same seed renders the same objects, and tasks are data."""

from __future__ import annotations

import json

import pytest
import yaml

from opsgym.errors import TaskSpecError
from opsgym.sre.paths import get_path
from opsgym.sre.render import plan, substitute
from opsgym.tasks import envs_root, load_task

TASKS = {task.id: task for task in map(load_task, sorted(envs_root().glob("sre-[0-9]*")))}
"""The first three tasks, whose engine behaviour these tests pin down (the whole catalog: tests/sre/test_catalog.py)."""


def find(objects, kind, name):
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def test_the_catalog_has_three_crashloop_tasks():
    assert sorted(TASKS) == ["SRE-1", "SRE-2", "SRE-3"]


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_the_same_seed_renders_the_same_episode(task_id):
    first, second = plan(TASKS[task_id], 11), plan(TASKS[task_id], 11)
    assert first.variables == second.variables and first.noise_names == second.noise_names
    assert json.dumps(first.objects(), sort_keys=True) == json.dumps(second.objects(), sort_keys=True)


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_seeds_vary_service_namespace_replicas_and_noise(task_id):
    episodes = [plan(TASKS[task_id], seed) for seed in range(30)]
    assert len({e.service for e in episodes}) >= 4
    assert len({e.namespace for e in episodes}) >= 5
    assert len({e.variables["replicas"] for e in episodes}) >= 2
    assert len({tuple(e.noise_names) for e in episodes}) >= 10
    assert len({json.dumps(e.replicas, sort_keys=True) for e in episodes}) >= 10


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_everything_lives_in_the_episode_namespace_which_comes_first(task_id):
    episode = plan(TASKS[task_id], 5)
    objects = episode.objects()
    # no label names the task: the agent would read the answer off `kubectl get ns --show-labels`
    assert objects[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": episode.namespace}}
    assert {o["metadata"]["namespace"] for o in objects[1:]} == {episode.namespace}


def test_sre1_puts_the_bad_value_into_the_services_configmap():
    episode = plan(TASKS["SRE-1"], 1)
    v = episode.variables
    config = find(episode.objects(), "ConfigMap", f"{v['service']}-config")
    assert config["data"][v["key"]] == v["bad_value"] != v["good_value"]


def test_sre2_points_the_env_at_a_host_that_is_not_a_service():
    episode = plan(TASKS["SRE-2"], 2)
    v, objects = episode.variables, episode.objects()
    dep = find(objects, "Deployment", v["service"])
    env = get_path(dep, f"spec.template.spec.containers[name={v['service']}].env[name={v['env_name']}].value")
    assert env == v["bad_addr"]
    assert v["bad_addr"].split(":")[0] not in {o["metadata"]["name"] for o in objects if o["kind"] == "Service"}


def test_sre3_cuts_the_memory_limit_below_the_need():
    episode = plan(TASKS["SRE-3"], 4)
    v = episode.variables
    dep = find(episode.objects(), "Deployment", v["service"])
    limit = get_path(dep, f"spec.template.spec.containers[name={v['service']}].resources.limits.memory")
    assert limit == v["bad_limit"] and int(v["bad_limit"][:-2]) < int(v["need"][:-2]) < int(v["good_limit"][:-2])


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_noise_never_touches_the_faulty_service(task_id):
    for seed in range(40):
        episode = plan(TASKS[task_id], seed)
        assert all(not n.endswith(f":{episode.service}") for n in episode.noise_names)


def test_strict_startup_noise_never_lands_on_a_client_of_the_faulty_service():
    for task in TASKS.values():
        for seed in range(60):
            episode = plan(task, seed)
            for name in episode.noise_names:
                if name.startswith("strict-startup:"):
                    target = name.partition(":")[2]
                    assert episode.service not in episode.app.dependencies[target]


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_the_oracle_solution_ends_with_a_complete_submit(task_id):
    task = TASKS[task_id]
    variables = plan(task, 0).variables
    last = substitute(task.solution[-1], variables)
    verb, _, payload = last.partition(" ")
    answer = json.loads(payload)
    assert verb == "submit" and set(answer) == {"diagnosis", "root_cause", "remediation"}
    truth = substitute(task.ground_truth.root_cause.model_dump(), variables)
    assert answer["root_cause"] == truth
    for group in substitute(task.ground_truth.diagnosis_keywords, variables):
        assert any(word.lower() in answer["diagnosis"].lower() for word in group), group


def test_substitute_keeps_types_and_rejects_unknown_variables():
    assert substitute({"n": "${replicas}", "s": "x-${replicas}"}, {"replicas": 3}) == {"n": 3, "s": "x-3"}
    with pytest.raises(TaskSpecError, match="unknown"):
        substitute("${nope}", {})


def test_a_fault_naming_an_object_the_app_lacks_fails_clearly(tmp_path):
    raw = yaml.safe_load((TASKS["SRE-1"].path / "task.yaml").read_text())
    raw["sre"]["app"] = str(TASKS["SRE-1"].path / raw["sre"]["app"])
    raw["sre"]["fault"][0]["name"] = "missing-config"
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TaskSpecError, match="missing-config"):
        plan(load_task(tmp_path), 0).objects()


def test_a_case_without_a_service_is_rejected_with_its_field(tmp_path):
    raw = yaml.safe_load((TASKS["SRE-1"].path / "task.yaml").read_text())
    raw["sre"]["cases"] = [{"key": "X"}]
    (tmp_path / "task.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(TaskSpecError, match=r"sre.*service"):
        load_task(tmp_path)
