"""The HTTP front of the embedded cluster: one aiohttp server on 127.0.0.1, in a background thread with its own
event loop, hosting any number of clusters under ``/clusters/<id>/``.

One server per process is the measured choice (``benchmarks/bench_cluster.py``): starting a server costs tens of
milliseconds and a thread, registering another cluster on a running one costs only the cluster's own set-up, and
vector envs in one process share the loop. Each cluster's kubeconfig points at its own path prefix, which kubectl
and the Python client both honour.

While a watch waits with nothing to send (``kubectl rollout status``, ``get -w``), virtual time jumps to the next
timer of that cluster, within a budget that every write request renews, so waiting commands finish in virtual
rather than wall time and stop when nothing more can happen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from aiohttp import web

from opsgym.cluster.sim.routes import Call, Reply, WatchPlan, route
from opsgym.cluster.sim.status import status_object
from opsgym.cluster.sim.store import Watcher
from opsgym.cluster.sim.tables import table

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["HostedCluster", "SimServer"]

log = logging.getLogger(__name__)
IDLE_S = 0.1
"""Wall seconds a watch waits for events before it lets virtual time jump to the next timer."""


@dataclass
class HostedCluster:
    """A cluster as the server sees it: its engine and its watch-driven time budget."""

    engine: Engine
    watch_advance_s: float = 900.0
    watch_used_s: float = 0.0

    def idle_step(self) -> bool:
        """Advance to the next timer if the budget allows; False when nothing (more) may happen."""
        with self.engine.lock:
            when = self.engine.next_timer()
            if when is None:
                return False
            step = when - self.engine.clock.now
            if self.watch_used_s + step > self.watch_advance_s:
                return False
            self.engine.advance(step)
            self.watch_used_s += step
            return True


def _dumps(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


class SimServer:
    """An API server process-wide singleton (:meth:`shared`) or a private instance (tests, ``cluster up``)."""

    _shared: ClassVar[SimServer | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self.clusters: dict[str, HostedCluster] = {}
        self._next_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> SimServer:
        with cls._shared_lock:
            if cls._shared is None or not cls._shared.running:
                cls._shared = cls()
                cls._shared.start()
            return cls._shared

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self.running:
            return
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(ready, failure), name="opsgym-sim-apiserver",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=16 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = runner.addresses[0][1]
        except BaseException as exc:  # reported to start()'s caller
            failure.append(exc)
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self.running:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def register(self, hosted: HostedCluster) -> str:
        """Host a cluster; returns its base URL (what a kubeconfig's ``server`` says)."""
        with self._lock:
            self._next_id += 1
            cluster_id = f"c{self._next_id}"
            self.clusters[cluster_id] = hosted
        return f"{self.url}/clusters/{cluster_id}"

    def unregister(self, url: str) -> None:
        with self._lock:
            self.clusters.pop(url.rstrip("/").rsplit("/", 1)[-1], None)

    # ------------------------------------------------------------------------------------------------ handlers
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        segments = [s for s in request.path.split("/") if s]
        hosted = self.clusters.get(segments[1]) if len(segments) >= 2 and segments[0] == "clusters" else None
        if hosted is None:
            body = status_object(404, "NotFound", "no such cluster on this server: use the server URL from the "
                                 "cluster's kubeconfig (http://127.0.0.1:PORT/clusters/ID)")
            return web.Response(status=404, body=_dumps(body), content_type="application/json")
        call = Call(request.method, f"/clusters/{segments[1]}", segments[2:], request.query,
                    request.headers.get("Content-Type", ""), request.headers.get("Accept", ""), await request.read())
        engine = hosted.engine
        with engine.lock:
            try:
                result = route(engine, call)
                if isinstance(result, Reply) and result.mutated:
                    engine.reconcile()
                    hosted.watch_used_s = 0.0
            except Exception as exc:  # a bug must not take the server down; the client sees a 500 Status
                log.exception("embedded cluster failed on %s %s", request.method, request.path)
                result = Reply(500, status_object(500, "InternalError", f"Internal error occurred: {exc!r}"))
        if isinstance(result, WatchPlan):
            return await self._watch(request, hosted, result)
        if isinstance(result.body, bytes):
            return web.Response(status=result.status, body=result.body, content_type=result.content_type)
        if isinstance(result.body, str):
            return web.Response(status=result.status, text=result.body, content_type="text/plain",
                                headers=result.headers)
        return web.Response(status=result.status, body=_dumps(result.body), content_type=result.content_type,
                            headers=result.headers)

    async def _watch(self, request: web.Request, hosted: HostedCluster, plan: WatchPlan) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        watcher = Watcher(plan.rt.plural, plan.namespace,
                          lambda kind, obj: loop.call_soon_threadsafe(queue.put_nowait, (kind, obj)),
                          lambda: loop.call_soon_threadsafe(queue.put_nowait, None))
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        engine = hosted.engine
        with engine.lock:
            try:
                engine.store.watch(watcher, plan.since)
            except LookupError as exc:
                gone = status_object(410, "Expired", str(exc))
                await response.write(_dumps({"type": "ERROR", "object": gone}) + b"\n")
                return response
        deadline, headers = loop.time() + plan.timeout_s, True
        try:
            while (remaining := deadline - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=min(IDLE_S, remaining))
                except asyncio.TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    hosted.idle_step()
                    continue
                if item is None:
                    break
                kind, obj = item
                if not (plan.labels(obj) and plan.fields(obj)):
                    continue
                payload = obj
                if plan.as_table:
                    payload = table(plan.rt, [obj], engine.clock.now, engine.store.revision, headers=headers)
                    headers = False
                await response.write(_dumps({"type": kind, "object": payload}) + b"\n")
        except (ConnectionResetError, RuntimeError):
            pass
        finally:
            with engine.lock:
                engine.store.unwatch(watcher)
        return response
