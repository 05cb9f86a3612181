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
