"""The contract every cluster backend meets, so one SRE task runs unchanged on the simulator, kind or a kubeconfig.

A backend is a Kubernetes API that the real ``kubectl`` binary and the official Python client talk to. The SRE
scenario renders a task's manifests (fault included) into plain objects and asks the backend to hold exactly those,
then lets time pass until the fault is observable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["ApiReader", "ClusterBackend", "Ready", "Rollout", "changes"]


@runtime_checkable
class ApiReader(Protocol):
    """Read access to a cluster's REST API for the judge (end-state checks, ``ready`` predicates), never the agent.

    Why not an ``ApiClient``: the judge only ever GETs JSON, and the simulator answers that in-process through the
    same routing its HTTP server uses, without a socket, serialisation or the kubernetes client's ~0.15 s import in
    every worker process. Real backends answer through their ``ApiClient`` (host, TLS, credentials).
    """

    def get(self, path: str) -> dict[str, Any] | None:
        """The JSON object at ``path`` (e.g. ``/api/v1/namespaces/shop/pods``), as plain data to read, not to mutate.

        Returns None when the API answers 404. Raises :class:`~opsgym.errors.ClusterApiError` for any other error.
        """


Ready = Callable[[ApiReader], bool]
"""A predicate over the cluster's API, e.g. "the faulty Deployment's pods are in CrashLoopBackOff"."""


@dataclass(frozen=True)
class Rollout:
    """A scenario that arrives in two steps, as incidents do after a deploy.

    The cluster first holds :meth:`ClusterBackend.load`'s objects until ``settled`` holds (a healthy revision 1);
    then it is changed to hold ``objects()``: objects that differ are replaced (a Deployment rolls out a new
    ReplicaSet, so ``kubectl rollout undo`` has a revision to go back to), new ones are created and missing ones
    deleted. Only then does ``ready`` (the fault observable) count.
    """

    objects: Callable[[], list[dict[str, Any]]]
    settled: Ready


def changes(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                                list[dict[str, Any]],
                                                                                list[dict[str, Any]]]:
    """What turns ``before`` into ``after``: (objects to replace, to create, to delete), keyed by kind and name."""
    def key(obj: dict[str, Any]) -> tuple[str, str]:
        return obj["kind"], obj["metadata"]["name"]

    old = {key(o): o for o in before}
    new = {key(o): o for o in after}
    return ([o for k, o in new.items() if k in old and old[k] != o], [o for k, o in new.items() if k not in old],
            [o for k, o in old.items() if k not in new])


@runtime_checkable
class ClusterBackend(Protocol):
    """A Kubernetes cluster for SRE episodes."""

    name: str
    """Registry name, e.g. ``sim``, ``kind``, ``kubeconfig``."""

    virtual_time: bool
    """True when time only passes through :meth:`advance` (the simulator), so episodes are deterministic."""

    @property
    def kubeconfig(self) -> Path:
        """A kubeconfig file for kubectl and the Python client, scoped to what the agent may touch."""

    def start(self) -> None:
        """Bring the cluster up (idempotent). Raises BackendUnavailableError with a fix when it cannot run here."""

    def api_client(self) -> ApiClient:
        """A kubernetes-client ApiClient for the cluster (for loading and for users' own code; not for the agent)."""

    def reader(self) -> ApiReader:
        """Reads for the judge: end-state checks and ``ready`` predicates."""

    def load(self, key: str, objects: Callable[[], list[dict[str, Any]]], *, ready: Ready | None = None,
             timeout_s: float = 600.0, rollout: Rollout | None = None,
             traffic: Mapping[str, float] | None = None) -> None:
        """Make the cluster hold exactly ``objects()`` (Namespaces first) and wait until ``ready`` holds; with a
        ``rollout``, settle first, then change to the rollout's objects (see :class:`Rollout`). ``traffic``: requests/s
        of outside load offered to Services of the episode's namespace from the start (the simulator's load model
        drives the metrics API and autoscalers with it; a backend with no load generator raises
        :class:`~opsgym.errors.BackendUnavailableError`).

        Everything a previous :meth:`load` created is removed first. ``key`` names the rendered scenario (task, seed,
        perturbation): a backend may cache the settled state under it (the simulator snapshots and restores it in
        milliseconds; real clusters re-apply). ``objects`` is only called when the backend needs it.
        """

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: the simulator steps its virtual clock; real clusters let wall time run."""

    def now(self) -> float:
        """Seconds on the cluster's clock (virtual or wall)."""

    def close(self) -> None:
        """Remove what opsgym created and stop what it started (idempotent; also runs on crash via atexit)."""
