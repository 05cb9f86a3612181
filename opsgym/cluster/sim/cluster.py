"""``SimCluster``: the embedded cluster as a :class:`~opsgym.cluster.base.ClusterBackend`.

It starts in milliseconds, needs no Docker, and speaks the Kubernetes REST API well enough for the real
``kubectl`` and the official Python client. Time is virtual: it moves only through :meth:`SimCluster.advance`
(and, boundedly, while a watch waits), so an episode replays identically for the same seed and actions.
:meth:`SimCluster.load` caches the settled state of a scenario and restores it in about a millisecond.
"""

from __future__ import annotations

import atexit
import base64
import copy
import functools
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

from opsgym.cluster.access import write_kubeconfig
from opsgym.cluster.base import ApiReader, Ready, Rollout, changes
from opsgym.cluster.cleanup import private_dir, reclaim_private_dirs
from opsgym.cluster.sim.clock import DEFAULT_EPOCH
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import BY_KIND
from opsgym.cluster.sim.routes import Call, Reply, route
from opsgym.cluster.sim.server import HostedCluster, SimServer
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.store import Snapshot
from opsgym.errors import ClusterApiError, InfrastructureError, TaskSpecError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["EngineReader", "SimCluster"]

TMP_PREFIX = "opsgym-sim-"
"""Private folders (kubeconfig, kubectl's cache) are ``<tmp>/opsgym-sim-<pid>-<start>-<random>``."""
READY_STEP_S = 5.0
"""Virtual seconds between checks of a ``ready`` predicate while a loaded scenario settles."""
T = TypeVar("T")


def _started(part: T | None) -> T:
    """A part :meth:`SimCluster.start` makes (engine, server, kubeconfig, base snapshot); missing only after close."""
    if part is None:
        raise InfrastructureError("the embedded cluster is closed; start it again (or use a new SimCluster)")
    return part


@functools.cache
def _reclaim_once() -> None:
    """Remove the private folders of earlier runs that were killed (SIGKILL skips ``close()`` and atexit)."""
    reclaim_private_dirs(TMP_PREFIX)


class EngineReader:
    """The judge's reads (:class:`~opsgym.cluster.base.ApiReader`) answered by the API server's own routing,
    in-process: the same answers kubectl gets, without a socket or JSON. The objects returned are the store's own,
    which are never mutated (see :mod:`opsgym.cluster.sim.store`), so they stay one consistent moment."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, path: str) -> dict[str, Any] | None:
        target, _, query = path.partition("?")
        call = Call("GET", [s for s in target.split("/") if s], dict(parse_qsl(query)), accept="application/json")
        with self.engine.lock:
            reply = route(self.engine, call)
        if not isinstance(reply, Reply):
            raise ClusterApiError(f"GET {path}: a watch is not a read", 400)
        if reply.status == 404:
            return None
        if not 200 <= reply.status <= 299:
            message = reply.body.get("message", reply.body) if isinstance(reply.body, dict) else reply.body
            raise ClusterApiError(f"GET {path} answered {reply.status}: {message}", reply.status)
        return reply.body


class SimCluster:
    """An in-process Kubernetes cluster with a virtual clock.

    Args:
        seed: seeds uids, pod-name suffixes and the programs' randomness.
        nodes: number of simulated nodes (``node-1`` …).
        epoch: Unix time the virtual clock starts at (a fixed date by default, so timestamps repeat).
        runner: the container runtime, ``run_container``-compatible (default: :mod:`opsgym.runtime.sim`).
        namespace: the kubeconfig context's default namespace.
        watch_advance_s: virtual seconds a waiting watch may advance time after each write (0 disables).
        server: a private :class:`SimServer`; by default all clusters of a process share one.
        kubeconfig: where to write the kubeconfig (default: a private temporary directory).
        token: the bearer token the API server requires (default: a fresh random one per cluster); it is in the
            kubeconfig and the :meth:`api_client`.
    """

    name = "sim"
    virtual_time = True

    def __init__(self, *, seed: int = 0, nodes: int = 2, epoch: float = DEFAULT_EPOCH,
                 runner: Callable[..., Any] | None = None, namespace: str = "default",
                 watch_advance_s: float = 900.0, server: SimServer | None = None,
                 kubeconfig: str | Path | None = None, token: str | None = None):
        self.seed, self.nodes, self.epoch, self.runner = seed, nodes, epoch, runner
        self.namespace, self.watch_advance_s = namespace, watch_advance_s
        self._server, self._kubeconfig_path = server, Path(kubeconfig) if kubeconfig else None
        self.token = token or secrets.token_urlsafe(32)
        self._tmpdir: str | None = None
        self._engine: Engine | None = None
        self._url = ""
        self._client: ApiClient | None = None
        self._base: Snapshot | None = None
        self._cache: dict[str, Snapshot] = {}

    # ------------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._engine is not None:
            return
        self._engine = Engine(seed=self.seed, epoch=self.epoch, nodes=self.nodes, runner=self.runner)
        self._server = self._server or SimServer.shared()
        self._url = self._server.register(HostedCluster(self._engine, self.watch_advance_s, token=self.token))
        if self._kubeconfig_path is None:
            _reclaim_once()
            self._tmpdir = str(private_dir(TMP_PREFIX))
            self._kubeconfig_path = Path(self._tmpdir) / "kubeconfig"
        self._kubeconfig_path.parent.mkdir(parents=True, exist_ok=True)
        write_kubeconfig(self._kubeconfig_path, self._kubeconfig_doc())
        self._ca_path.write_text(self.certificate_pem, encoding="ascii")
        with self._engine.lock:
            self._base = self._engine.snapshot()
        atexit.register(self.close)

    def _kubeconfig_doc(self) -> dict[str, Any]:
        ca = base64.b64encode(self.certificate_pem.encode()).decode()
        return {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "clusters": [{"name": "opsgym-sim", "cluster": {"server": self._url,
                                                                "certificate-authority-data": ca}}],
                "users": [{"name": "opsgym", "user": {"token": self.token}}],
                "contexts": [{"name": "opsgym-sim", "context": {"cluster": "opsgym-sim", "user": "opsgym",
                                                                "namespace": self.namespace}}],
                "current-context": "opsgym-sim"}

    def close(self) -> None:
        if self._engine is None:
            return
        if self._server is not None:
            self._server.unregister(self._url)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir, self._kubeconfig_path = None, None
        self._engine = None
        atexit.unregister(self.close)

    def __enter__(self) -> SimCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ access
    @property
    def engine(self) -> Engine:
        """The simulation behind the API (for tests and scenario code that needs direct access)."""
        if self._engine is None:
            self.start()
        return _started(self._engine)

    @property
    def url(self) -> str:
        self.start()
        return self._url

    @property
    def kubeconfig(self) -> Path:
        self.start()
        return _started(self._kubeconfig_path)

    @property
    def certificate_pem(self) -> str:
        """The API server's certificate: the CA its clients trust (in the kubeconfig, and in ``ca.crt`` beside it)."""
        self.start()
        return _started(_started(self._server).identity).certificate_pem

    @property
    def _ca_path(self) -> Path:
        path = _started(self._kubeconfig_path)
        return path.with_name(path.name + ".ca.crt")

    def api_client(self) -> ApiClient:
        from kubernetes import client

        self.start()
        if self._client is None:
            config = client.Configuration()
            config.host = self._url
            config.ssl_ca_cert = str(self._ca_path)
            config.api_key = {"authorization": f"Bearer {self.token}"}
            self._client = client.ApiClient(config)
        return self._client

    def reader(self) -> ApiReader:
        return EngineReader(self.engine)

    # ------------------------------------------------------------------------------------------------ time
    def advance(self, seconds: float) -> None:
        with self.engine.lock:
            self.engine.advance(seconds)

    def now(self) -> float:
        return self.engine.clock.now

    def snapshot(self) -> Snapshot:
        with self.engine.lock:
            return self.engine.snapshot()

    def restore(self, snapshot: Snapshot) -> None:
        with self.engine.lock:
            self.engine.restore(snapshot)

    # ------------------------------------------------------------------------------------------------ scenarios
    def load(self, key: str, objects: Callable[[], list[dict[str, Any]]], *, ready: Ready | None = None,
             timeout_s: float = 600.0, rollout: Rollout | None = None,
             traffic: Mapping[str, float] | None = None) -> None:
        """Hold exactly ``objects()`` and settle until ``ready`` (after the ``rollout``, if any) under ``traffic``;
        cached per ``key`` and restored in milliseconds.

        Raises:
            TaskSpecError: the cluster rejected one of the objects (the message names it and says why).
            InfrastructureError: a predicate did not hold within ``timeout_s`` virtual seconds.
        """
        engine = self.engine
        cached = self._cache.get(key)
        if cached is not None:
            self.restore(cached)
            return
        self.restore(_started(self._base))
        items = list(objects())
        items.sort(key=lambda o: (o or {}).get("kind") != "Namespace")
        with engine.lock:
            for index, obj in enumerate(items):
                self._create(index, obj)
            namespace = next((o["metadata"]["name"] for o in items if o.get("kind") == "Namespace"), self.namespace)
            for service, rps in (traffic or {}).items():
                engine.metrics.set_load(namespace, service, rps)
            engine.reconcile()
        if rollout is not None:
            self._settle(key, rollout.settled, timeout_s, "settle before its rollout")
            self._roll_out(items, rollout.objects())
        self._settle(key, ready, timeout_s, "become ready")
        self._cache[key] = self.snapshot()

    def _settle(self, key: str, ready: Ready | None, timeout_s: float, what: str) -> None:
        waited = 0.0
        while ready is not None and not ready(self.reader()):
            if waited >= timeout_s:
                raise InfrastructureError(f"scenario {key!r} did not {what} within {timeout_s:g} virtual "
                                          "seconds on the embedded cluster; check the fault and the ready predicate "
                                          "(`opsgym cluster up --task …` lets you look at it with kubectl)")
            self.advance(READY_STEP_S)
            waited += READY_STEP_S

    def _roll_out(self, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
        """Change the loaded objects into ``after`` as a deploy would (replace, create, delete)."""
        replaced, created, deleted = changes(before, after)
        api = self.engine.api
        with self.engine.lock:
            for obj in replaced:
                rt = BY_KIND[(str(obj["apiVersion"]), str(obj["kind"]))]
                namespace = obj["metadata"].get("namespace", self.namespace) if rt.namespaced else ""
                live = api.get(rt, namespace, obj["metadata"]["name"])
                body = copy.deepcopy(obj)
                body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
                try:
                    api.update(rt, namespace, obj["metadata"]["name"], body)
                except ApiError as exc:
                    raise TaskSpecError(f"the rollout's {obj['kind']} {obj['metadata']['name']} was rejected by "
                                        f"the embedded cluster: {exc.message}") from exc
            for index, obj in enumerate(created):
                self._create(index, obj)
            for obj in deleted:
                rt = BY_KIND[(str(obj["apiVersion"]), str(obj["kind"]))]
                api.delete(rt, obj["metadata"].get("namespace", self.namespace) if rt.namespaced else "",
                           obj["metadata"]["name"])
            self.engine.reconcile()

    def _create(self, index: int, obj: dict[str, Any]) -> None:
        kind, api_version = (obj or {}).get("kind"), (obj or {}).get("apiVersion")
        rt = BY_KIND.get((str(api_version), str(kind)))
        name = ((obj or {}).get("metadata") or {}).get("name", "?")
        if rt is None:
            raise TaskSpecError(f"object #{index} ({api_version}/{kind} {name!r}) is not a kind the embedded cluster "
                                f"serves; supported: {', '.join(sorted(k for _, k in BY_KIND))}")
        namespace = ((obj.get("metadata") or {}).get("namespace") or self.namespace) if rt.namespaced else ""
        try:
            self.engine.api.create(rt, namespace, obj)
        except ApiError as exc:
            raise TaskSpecError(f"object #{index} ({kind} {namespace + '/' if namespace else ''}{name}) was rejected "
                                f"by the embedded cluster: {exc.message}") from exc
