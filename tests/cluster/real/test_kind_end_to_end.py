"""SRE-1..3 on a real kind cluster, end to end: the oracle's kubectl fix passes the same end-state checks as on sim.

Needs a Docker engine and the kind CLI (skips with the reason otherwise). It creates the cluster ``opsgym-test`` (or
reuses it), pulls ``python:3.12-slim`` once, and deletes the cluster at the end if it created it. Expect several
minutes: each episode waits for real CrashLoopBackOff, then for the repaired service to stay healthy
(``settle_s``/``stable_s``).
"""

from __future__ import annotations

from collections.abc import Iterator

import gymnasium as gym
import pytest
from kubernetes import client

import opsgym  # noqa: F401  (registers the opsgym/* ids)
from opsgym.agents.scripted import OracleAgent
from opsgym.cluster.kind import KindCluster, docker_engine, kind_binary, list_leaked_clusters
from opsgym.errors import BackendUnavailableError

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CLUSTER = "opsgym-test"


@pytest.fixture(scope="module")
def cluster() -> Iterator[KindCluster]:
    """Holds the cluster for the whole module: the envs share it (same process) and it is deleted at the end."""
    try:
        docker_engine()
        kind_binary()
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    holder = KindCluster(name=CLUSTER)
    holder.start()
    yield holder
    holder.close()


@pytest.mark.parametrize("task_id", ["SRE-1", "SRE-2", "SRE-3"])
def test_the_oracle_fixes_the_incident_on_kind(task_id: str, cluster: KindCluster) -> None:
    env = gym.make(f"opsgym/{task_id}", backend="kind", backend_options={"name": CLUSTER})
    agent = OracleAgent()
    obs, info = env.reset(seed=0)
    pods = client.CoreV1Api(cluster.api_client()).list_pod_for_all_namespaces(
        label_selector="app.kubernetes.io/part-of=shop").items
    waiting = [s.state.waiting.reason for p in pods for s in (p.status.container_statuses or [])
               if s.state.waiting is not None]
    assert "CrashLoopBackOff" in waiting, "the fault is really observable on kind before the agent starts"
    agent.reset(seed=0, env=env)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
    env.close()
    outcome = info["outcome"]
    assert terminated and outcome["remediation_correct"] == 1.0, outcome["checks"]


def test_the_shared_cluster_is_owned_by_this_run_and_nothing_is_leaked(cluster: KindCluster) -> None:
    found = {c.name: c for c in list_leaked_clusters()}
    assert found[CLUSTER].status == "in use"
    assert [c for c in found.values() if c.leaked] == []
