"""The reset gate: the agent starts when the task's fault is observable, read through the Kubernetes API.

A task names what an on-call engineer would see (``observe``: a workload crash-looping, stuck pulling its image,
Pending, running but not Ready, a Service with no endpoints, a rollout that does not finish, the shop's request
failing, or all well), and which other workloads the fault takes down (``affected``). Reset waits until every named
state holds and every other Deployment is Ready, so episodes start from a settled incident on every backend: the
same predicate judges the simulator and kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.sre.checks import ClusterView, collection, crashlooping, waiting_reasons
from opsgym.sre.flow import ApiStore, request_flow
from opsgym.sre.paths import get_path
from opsgym.sre.render import Episode, substitute
from opsgym.sre.spec import GateState

__all__ = ["deployments_ready", "gate", "observed_state"]

IMAGE_PULL = frozenset({"ErrImagePull", "ImagePullBackOff"})


def _ready_count(deployment: dict[str, Any]) -> tuple[int, int]:
    return int(get_path(deployment, "status.readyReplicas", 0) or 0), int(deployment["spec"].get("replicas", 1))


def _failed(job: dict[str, Any]) -> bool:
    return any(c.get("type") == "Failed" and c.get("status") == "True"
               for c in get_path(job, "status.conditions", []) or [])


def _flow_ok(view: ClusterView, episode: Episode) -> bool:
    request = episode.app.request
    if request is None:
        return True
    flow = request_flow(ApiStore(view.reader), episode.namespace, request.service, request.port, request.path)
    return flow.status == 200


def observed_state(view: ClusterView, episode: Episode, state: GateState, name: str, everyone: list[str]) -> bool:
    """Whether Deployment ``name`` (or, for ``degraded``/``healthy``, the app of Deployments ``everyone``) shows
    ``state`` now."""
    namespace = episode.namespace
    if state == "healthy":
        return deployments_ready(view, namespace, everyone) and _flow_ok(view, episode)
    if state == "degraded":
        return not _flow_ok(view, episode)
    if state == "crashloop":
        return crashlooping(view, namespace, name, [])
    if state == "job-failed":
        return any(_failed(job) for job in (view.reader.get(collection("Job", namespace)) or {}).get("items") or []
                   if job["metadata"]["name"] == name or any(ref.get("kind") == "CronJob" and ref.get("name") == name
                                                              for ref in job["metadata"].get("ownerReferences") or []))
    deployment = view.get("Deployment", namespace, name)
    if deployment is None:
        return False
    pods = view.pods(namespace, deployment)
    reasons = [set(waiting_reasons(p)) for p in pods]
    if state == "image-pull":
        return any(r & IMAGE_PULL for r in reasons)
    if state == "config-error":
        return any("CreateContainerConfigError" in r for r in reasons)
    if state == "pending":
        unscheduled = any(get_path(p, "status.phase") == "Pending" and any(
            c.get("type") == "PodScheduled" and c.get("status") == "False"
            for c in get_path(p, "status.conditions", []) or []) for p in pods)
        refused = any(c.get("type") == "ReplicaFailure" and c.get("status") == "True"
                      for c in get_path(deployment, "status.conditions", []) or [])
        return unscheduled or refused
    if state == "not-ready":
        ready, wanted = _ready_count(deployment)
        running = [p for p in pods if get_path(p, "status.phase") == "Running"]
        return len(running) >= wanted and ready < wanted and not any("CrashLoopBackOff" in r for r in reasons)
    if state == "no-endpoints":
        endpoints = view.get("Endpoints", namespace, name) or {}
        return not any(s.get("addresses") for s in endpoints.get("subsets", []) or [])
    # rollout-stalled: the newest ReplicaSet does not become available, or the rollout is paused half-way
    if deployment["spec"].get("paused"):
        return True
    status = deployment.get("status") or {}
    wanted = int(deployment["spec"].get("replicas", 1))
    return int(status.get("updatedReplicas", 0) or 0) < wanted or int(status.get("unavailableReplicas", 0) or 0) > 0


def deployments_ready(view: ClusterView, namespace: str, names: list[str]) -> bool:
    """Every Deployment in ``names`` exists and has all its replicas Ready."""
    for name in names:
        deployment = view.get("Deployment", namespace, name)
        if deployment is None:
            return False
        ready, wanted = _ready_count(deployment)
        if ready < wanted:
            return False
    return True


def gate(episode: Episode) -> tuple[Callable[[ClusterView], bool], list[str]]:
    """The task's reset predicate over a view, and a description of each state it waits for."""
    spec = episode.task.sre
    wanted = [(substitute(o.workload, episode.variables), o.state) for o in spec.observe]
    down = {name for name, _ in wanted} | {substitute(a, episode.variables) for a in spec.affected}
    everyone = episode.deployments()
    others = [name for name in everyone if name not in down]

    def holds(view: ClusterView) -> bool:
        return all(observed_state(view, episode, state, name, everyone) for name, state in wanted) and \
            deployments_ready(view, episode.namespace, others)

    return holds, [f"{name}: {state}" for name, state in wanted]

