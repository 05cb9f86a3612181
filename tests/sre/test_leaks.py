"""Nothing in the cluster names the task or gives the fault away: every object the agent can list, as kubectl shows
it with ``-o yaml``, is free of the task id and of the fault's repaired value, except where the fault itself shows."""

from __future__ import annotations

import pytest
import yaml
from sre_episodes import TASKS

from opsgym.cluster.sim.kinds import RESOURCES

LISTED = ",".join(r.plural if not r.group else f"{r.plural}.{r.group}" for r in RESOURCES)


def everything(scenario) -> list[dict]:
    """Every object of every kind, across namespaces, read with the agent's own kubectl."""
    result = scenario.kubectl.run(f"kubectl get {LISTED} -A -o yaml --show-managed-fields")
    assert result.ok, result.observation[:500]
    return yaml.safe_load(result.observation)["items"]


@pytest.mark.parametrize("task_id", sorted(TASKS))
@pytest.mark.parametrize("seed", [0, 1])
def test_no_object_names_the_task(scenarios, task_id, seed):
    scenario = scenarios[task_id]
    scenario.reset(seed)
    text = yaml.safe_dump(everything(scenario))
    for secret in (task_id, "SRE-", "opsgym.io/task", TASKS[task_id].title):
        assert secret not in text


REPAIRED = {"SRE-1": "good_value", "SRE-2": "good_addr", "SRE-3": "good_limit"}


@pytest.mark.parametrize("task_id", sorted(TASKS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_faulty_objects_keep_no_trace_of_the_value_before_the_fault(scenarios, task_id, seed):
    """No last-applied configuration, managed field, old ReplicaSet or annotation holds the pristine value."""
    scenario = scenarios[task_id]
    _, v = scenario.reset(seed)
    good = str(v[REPAIRED[task_id]])
    faulty = f"{v['service']}-config" if task_id == "SRE-1" else v["service"]
    prefix = {"ReplicaSet": v["service"] + "-", "Pod": v["service"] + "-"}
    owned = [o for o in everything(scenario) if o["metadata"].get("namespace") == v["namespace"] and (
        o["metadata"]["name"] == faulty or o["metadata"]["name"].startswith(prefix.get(o["kind"], "\0")))]
    assert owned
    if task_id == "SRE-1":
        assert not [o for o in owned if f"{v['key']}: {good}\n" in yaml.safe_dump(o.get("data", {}))
                    or f'"{v["key"]}":"{good}"' in str(o["metadata"].get("annotations"))]
    else:
        assert not [o["metadata"]["name"] for o in owned if good in yaml.safe_dump(o)]


AGENT_READS = ("kubectl get all,cm,secrets,ns,sa,ev -A -o yaml --show-managed-fields", "kubectl events -A",
               "kubectl describe ns", "kubectl describe deploy -A", "kubectl get nodes -o yaml",
               "kubectl get ns --show-labels")


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_nothing_an_agent_can_read_names_the_task_or_its_fault(scenarios, task_id):
    """#17 part 10: after a reset, no label, annotation, managed field, last-applied configuration or event holds
    the task id, its folder's fault name, its title or an ``opsgym.io/task`` marker."""
    scenario = scenarios[task_id]
    scenario.reset(0)
    task = TASKS[task_id]
    results = [scenario.kubectl.run(action) for action in AGENT_READS]
    assert all(r.ok for r in results), [r.observation[:300] for r in results if not r.ok]
    text = "\n".join(r.observation for r in results)
    assert "kube-system" in text and "last-applied" not in text  # the dump is whole and the loader applies nothing
    fault_name = task.path.name.split("-", 2)[-1]  # sre-1-bad-configmap-value -> bad-configmap-value
    for secret in (task_id, task_id.lower(), "SRE-", "opsgym.io/task", task.title, fault_name, task.path.name):
        assert secret not in text, secret
