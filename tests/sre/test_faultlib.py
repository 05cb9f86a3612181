"""The fault library: tasks that ``uses:`` fault files, what a broken one says, and the engine features they rely on
(objects and setup in the pristine app, faults that create or delete objects, gates, rollouts, the pristine
baseline, controls). Each test writes a small task into a temporary folder and plays it on the embedded cluster."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from opsgym import plugins
from opsgym.errors import TaskSpecError
from opsgym.sre.render import plan
from opsgym.sre.scenario import SREScenario
from opsgym.tasks import envs_root, load_task, merge_documents

FAULT = """
title: "Selector mismatch"
hints: ["look at the endpoints of ${service}"]
ground_truth:
  diagnosis: "Service ${service} selects ${sel_value}"
  root_cause: {kind: Service, name: "${service}", field: spec.selector}
solution:
  - >-
    kubectl patch service ${service} -n ${namespace} --type json
    -p '[{"op": "replace", "path": "/spec/selector/app", "value": "${service}"}]'
  - >-
    submit {"diagnosis": "selector of ${service}", "root_cause": "Service ${service} spec.selector",
    "remediation": "fixed"}
sre:
  app: opsgym:shop
  family: networking
  observe: [{workload: "${service}", state: no-endpoints}]
  fault:
    - {kind: Service, name: "${service}", set: {spec.selector.app: "${sel_value}"}}
  repairable:
    - {kind: Service, name: "${service}", paths: [spec.selector]}
  checks:
    - {name: selector-fixed, kind: Service, object: "${service}", path: spec.selector.app, equals: "${service}"}
"""

TASK = """
id: Lib-1
domain: sre
uses: [../_faults/net/selector.yaml]
difficulty: easy
sre:
  alert: "orders fail in ${namespace}"
  namespaces: [shop]
  cases:
    - {service: cart, sel_value: carts}
    - {service: catalog, sel_value: catalogue}
  replicas: {faulty: [1], others: [1]}
  app_noise: false
"""


def write_task(root: Path, task: str = TASK, fault: str = FAULT, folder: str = "lib-1") -> Path:
    (root / "_faults" / "net").mkdir(parents=True, exist_ok=True)
    (root / "_faults" / "net" / "selector.yaml").write_text(textwrap.dedent(fault))
    (root / folder).mkdir(exist_ok=True)
    (root / folder / "task.yaml").write_text(textwrap.dedent(task))
    return root / folder


@pytest.fixture(scope="module")
def sim_scenario():
    """One embedded cluster for the episodes of this module (tasks are swapped in per test)."""
    task = load_task(envs_root() / "sre-1-bad-configmap-value")
    scenario = SREScenario(task, backend="sim")
    yield scenario
    scenario.close()


def play(scenario: SREScenario, task, seed: int, actions: list[str]):
    scenario.task = task
    alert, info = scenario.reset(seed)
    for action in actions:
        scenario.execute(action)
    return info, scenario.evaluate()


def failed(evaluation) -> set[str]:
    return {c.name for c in evaluation.checks if not c.passed}


# ------------------------------------------------------------------------------------------------ loading
def test_a_task_takes_the_fault_file_and_adds_its_own(tmp_path):
    task = load_task(write_task(tmp_path))
    assert task.title == "Selector mismatch" and task.difficulty == "easy"
    assert task.sre.family == "networking" and task.sre.observe[0].state == "no-endpoints"
    assert [c["service"] for c in task.sre.cases] == ["cart", "catalog"]


def test_merged_lists_concatenate_and_everything_else_is_replaced():
    concat = frozenset({"sre.fault"})
    base = {"title": "a", "hints": ["x"], "sre": {"fault": [1], "checks": [1], "alert": "a"}}
    top = {"title": "b", "hints": ["y"], "sre": {"fault": [2], "checks": [2]}}
    assert merge_documents(base, top, concat=concat) == {
        "title": "b", "hints": ["y"], "sre": {"fault": [1, 2], "checks": [2], "alert": "a"}}


def test_two_fault_files_compose_into_one_task(tmp_path):
    second = tmp_path / "_faults" / "net" / "second.yaml"
    folder = write_task(tmp_path, TASK.replace("uses: [../_faults/net/selector.yaml]",
                                               "uses: [../_faults/net/selector.yaml, ../_faults/net/second.yaml]"))
    second.write_text(yaml.safe_dump({"sre": {"fault": [{"kind": "ConfigMap", "name": "cart-config",
                                                         "set": {"data.MAX_ITEMS": "fifty"}}],
                                              "repairable": [{"kind": "ConfigMap", "name": "cart-config",
                                                              "paths": ["data.MAX_ITEMS"]}]}}))
    task = load_task(folder)
    assert [op.kind for op in task.sre.fault] == ["Service", "ConfigMap"]
    assert [r.kind for r in task.sre.repairable] == ["Service", "ConfigMap"]


@pytest.mark.parametrize(("task", "fault", "expected"), [
    (TASK.replace("net/selector.yaml", "net/nope.yaml"), FAULT, "does not exist (an unknown fault type?)"),
    (TASK, FAULT.replace("equals: \"${service}\"", "equals: \"${servcie}\""), "${servcie}"),
    (TASK, FAULT.replace("kind: Service, object", "kind: Servise, object"), "'Servise' is not a kind"),
    (TASK, FAULT.replace("state: no-endpoints", "state: sad"), "sre.observe.0.state"),
    (TASK.replace("difficulty: easy", "difficulty: brutal"), FAULT, "field difficulty"),
])
def test_a_broken_task_names_the_file_and_what_is_wrong(tmp_path, task, fault, expected):
    with pytest.raises(TaskSpecError) as err:
        load_task(write_task(tmp_path, task, fault))
    assert str(tmp_path / "lib-1" / "task.yaml") in str(err.value)
    assert expected in str(err.value)


def test_a_validation_error_points_at_the_line_of_the_file_that_wrote_it(tmp_path):
    with pytest.raises(TaskSpecError) as err:
        load_task(write_task(tmp_path, TASK.replace("difficulty: easy", "difficulty: brutal")))
    assert "(line 5)" in str(err.value)  # the task file's own line
    with pytest.raises(TaskSpecError) as err:
        load_task(write_task(tmp_path, TASK, FAULT.replace("state: no-endpoints", "state: sad")))
    assert "(selector.yaml line" in str(err.value)  # the fault file's line


def test_a_broken_task_folder_is_reported_and_the_rest_of_the_catalog_loads(tmp_path, monkeypatch):
    from opsgym import tasks_builtin

    write_task(tmp_path, folder="lib-1")
    write_task(tmp_path, TASK.replace("id: Lib-1", "id: Lib-2").replace("difficulty: easy", "difficulty: x"),
               folder="lib-2")
    write_task(tmp_path, TASK.replace("id: Lib-1", "id: Lib-3"), folder="lib-3")
    monkeypatch.setattr(tasks_builtin, "catalog_folders", lambda: sorted(p for p in tmp_path.iterdir()
                                                                          if not p.name.startswith("_")))
    registered: list[str] = []
    monkeypatch.setattr(plugins, "PLUGIN_ERRORS", [])
    with pytest.warns(UserWarning, match="lib-2 was not loaded"):
        tasks_builtin.register_tasks(register=lambda folder: registered.append(load_task(folder).id))
    assert registered == ["Lib-1", "Lib-3"]
    assert "field difficulty" in plugins.PLUGIN_ERRORS[0]


# ------------------------------------------------------------------------------------------------ rendering
def test_objects_setup_create_and_delete_render_into_pristine_and_faulty_apps(tmp_path):
    extra = """
    objects:
      - {apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: "${service}-data"},
         spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}
    setup:
      - {kind: Deployment, name: "${service}", set: {spec.revisionHistoryLimit: 4}}
    fault:
      - {create: {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: deny},
                  spec: {podSelector: {}, policyTypes: [Ingress]}}}
      - {kind: ConfigMap, name: "${service}-config", delete: true}
    """
    task = load_task(write_task(tmp_path, TASK + textwrap.indent(textwrap.dedent(extra), "  ")))
    episode = plan(task, 0)
    pristine = {(o["kind"], o["metadata"]["name"]): o for o in episode.objects(fault=False)}
    faulty = {(o["kind"], o["metadata"]["name"]): o for o in episode.objects()}
    service = episode.service
    assert ("PersistentVolumeClaim", f"{service}-data") in pristine
    assert pristine["Deployment", service]["spec"]["revisionHistoryLimit"] == 4
    assert ("NetworkPolicy", "deny") in faulty and ("NetworkPolicy", "deny") not in pristine
    assert ("ConfigMap", f"{service}-config") in pristine and ("ConfigMap", f"{service}-config") not in faulty
    assert faulty["Service", service]["spec"]["selector"]["app"] != pristine["Service", service]["spec"]["selector"][
        "app"]
    assert all(o["metadata"]["namespace"] == "shop" for o in faulty.values() if o["kind"] != "Namespace")


def test_a_fault_operation_does_exactly_one_thing(tmp_path):
    bad = FAULT.replace("set: {spec.selector.app: \"${sel_value}\"}", "delete: true, set: {spec.selector.app: x}")
    with pytest.raises(TaskSpecError, match="exactly one of"):
        load_task(write_task(tmp_path, TASK, bad))


# ------------------------------------------------------------------------------------------------ playing
def test_the_gate_waits_for_the_tasks_state_and_both_valid_fixes_pass(tmp_path, sim_scenario):
    """A Service selector fault: reset waits for no endpoints (no crash loop exists); the safety baseline is the
    pristine Service, so putting the selector back scores as a repair."""
    task = load_task(write_task(tmp_path))
    info, evaluation = play(sim_scenario, task, 0, [])
    assert info["observed"] == [f"{info['service']}: no-endpoints"]
    assert evaluation.remediation_correct == 0.0
    assert {f"{info['service']}-endpoints-serve", "selector-fixed"} <= failed(evaluation)
    fix = plan(task, 0).variables
    info, evaluation = play(sim_scenario, task, 0, [
        f"kubectl patch service {fix['service']} -n shop --type merge -p "
        f"'{{\"spec\": {{\"selector\": {{\"app\": \"{fix['service']}\"}}}}}}'"])
    assert failed(evaluation) == set() and evaluation.remediation_correct == 1.0


def test_outside_the_repairable_fields_the_pristine_app_is_the_baseline(tmp_path, sim_scenario):
    """The selector put back, but the Deployment changed on the way (a field no valid fix needs): not a repair."""
    task = load_task(write_task(tmp_path))
    v = plan(task, 0).variables
    _, evaluation = play(sim_scenario, task, 0, [
        f"kubectl patch service {v['service']} -n shop --type merge -p "
        f"'{{\"spec\": {{\"selector\": {{\"app\": \"{v['service']}\"}}}}}}'",
        f"kubectl set env deployment/{v['service']} -n shop STRICT_DEPENDENCIES=false"])
    assert failed(evaluation) == {f"{v['service']}-unchanged-but-repaired"}
    assert evaluation.remediation_correct == 0.0


ROLLOUT = """
  rollout: true
  observe: [{workload: "${service}", state: rollout-stalled}]
  fault:
    - kind: Deployment
      name: "${service}"
      set:
        "spec.template.spec.containers[name=${service}].image": "python:3.12-nonexistent"
        'metadata.annotations["kubernetes.io/change-cause"]': "bump the base image"
  repairable:
    - kind: Deployment
      name: "${service}"
      paths: ["spec.template.spec.containers[name=${service}].image"]
"""


def test_a_rollout_fault_arrives_as_revision_two_and_rollout_undo_repairs_it(tmp_path, sim_scenario):
    fault = FAULT[:FAULT.index("  observe:")] + ROLLOUT
    task = load_task(write_task(tmp_path, TASK, fault))
    v = plan(task, 1).variables
    sim_scenario.task = task
    info = sim_scenario.reset(1)[1]
    history = sim_scenario.execute(f"kubectl rollout history deployment/{v['service']} -n shop").observation
    assert "bump the base image" in history and "1 " in history and "2 " in history
    assert info["observed"] == [f"{v['service']}: rollout-stalled"]
    _, evaluation = play(sim_scenario, task, 1, [f"kubectl rollout undo deployment/{v['service']} -n shop",
                                                 f"kubectl rollout status deployment/{v['service']} -n shop"])
    assert failed(evaluation) == set(), failed(evaluation)


CONTROL = """
id: Ctl-1
domain: sre
title: "False alarm"
ground_truth: {diagnosis: "nothing is wrong"}
sre:
  app: opsgym:shop
  family: control
  control: true
  alert: "latency blip on ${service}"
  namespaces: [shop]
  cases: [{service: cart}, {service: catalog}]
  replicas: {faulty: [1], others: [1]}
  observe: [{state: healthy}]
"""


def test_a_control_passes_untouched_and_fails_on_any_change(tmp_path, sim_scenario):
    folder = tmp_path / "ctl"
    folder.mkdir()
    (folder / "task.yaml").write_text(textwrap.dedent(CONTROL))
    task = load_task(folder)
    info, evaluation = play(sim_scenario, task, 0, [])
    assert info["observed"] == [f"{info['service']}: healthy"]
    assert failed(evaluation) == set() and evaluation.remediation_correct == 1.0
    _, evaluation = play(sim_scenario, task, 0, ["kubectl set env deployment/shipping -n shop LOG_LEVEL=debug"])
    assert "app-unchanged" in failed(evaluation) and evaluation.remediation_correct == 0.0


def test_a_control_counts_a_restart_or_a_recreated_workload_as_a_change(tmp_path, sim_scenario):
    folder = tmp_path / "ctl"
    folder.mkdir()
    (folder / "task.yaml").write_text(textwrap.dedent(CONTROL))
    task = load_task(folder)
    for move in ("kubectl rollout restart deployment/cart -n shop", "kubectl scale deployment/kv -n shop --replicas=2"):
        _, evaluation = play(sim_scenario, task, 0, [move])
        assert "app-unchanged" in failed(evaluation), move
    sim_scenario.task = task
    sim_scenario.reset(0)
    manifest = yaml.safe_load(sim_scenario.execute("kubectl get deployment cart -n shop -o yaml").observation)
    manifest.pop("status")
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
        manifest["metadata"].pop(key, None)
    for action in ["kubectl delete deployment cart -n shop",
                   "kubectl create -f - <<EOF\n" + yaml.safe_dump(manifest) + "EOF"]:
        assert sim_scenario.execute(action).ok
    evaluation = sim_scenario.evaluate()
    assert [c.detail for c in evaluation.checks if c.name == "app-unchanged"] == [
        "changed besides the repair: Deployment cart: deleted and re-created"]
