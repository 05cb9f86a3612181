"""The HTTP front of the embedded cluster: one aiohttp server in a background thread with its own event loop,
hosting any number of clusters, each on its own port on 127.0.0.1, over TLS, each asking for its own bearer token.

One server (one thread, one loop) per process is the measured choice (``benchmarks/bench_cluster.py``): a cluster
joins a running server in about a millisecond and costs one listening socket, not a thread; vector envs in one
process share the loop. Each cluster gets its own port rather than a path prefix because kubectl ignores a
server URL's path for ``get --raw`` and OpenAPI fetches, and keys its discovery cache by host and port.

While a watch waits with nothing to send (``kubectl rollout status``, ``get -w``), virtual time jumps to the next
timer of that cluster, within a budget that every write request renews, so waiting commands finish in virtual
rather than wall time and stop when nothing more can happen.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aiohttp import web

from opsgym.cluster.sim.certs import ServerIdentity, make_identity
from opsgym.cluster.sim.execws import EXEC_PATH, serve_exec
from opsgym.cluster.sim.identity import impersonate
from opsgym.cluster.sim.rbac import ADMIN, User
from opsgym.cluster.sim.routes import Call, Reply, WatchPlan, route
from opsgym.cluster.sim.status import ApiError, status_object
from opsgym.cluster.sim.store import Watcher
from opsgym.cluster.sim.tables import table

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["HostedCluster", "SimServer"]

log = logging.getLogger(__name__)
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
                "reason": "Unauthorized", "code": 401}
"""What a Kubernetes API server answers a request without valid credentials."""
IDLE_S = 0.1
"""Wall seconds a watch waits for events before it lets virtual time jump to the next timer."""


@dataclass
class HostedCluster:
    """A cluster as the server sees it: its engine, its bearer token and its watch-driven time budget."""

    engine: Engine
    watch_advance_s: float = 900.0
    watch_used_s: float = 0.0
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """Every request must carry ``Authorization: Bearer <token>``. All clusters of a process listen on the same
    loopback, which any local process (another episode's kubectl, too) can reach; the token is what makes a port
    answer only to the kubeconfig written for it."""

    def authorized(self, header: str) -> bool:
        """Whether an ``Authorization`` header carries this cluster's token (compared in constant time)."""
        return hmac.compare_digest(header.encode("utf-8", "replace"), f"Bearer {self.token}".encode())

    def authenticate(self, headers: Any) -> User | None:
        """The admin for this cluster's token, a ServiceAccount for a token the cluster issued, else None (401);
        then whom ``Impersonate-User`` names, if the caller may (``kubectl --as``).

        Raises:
            ApiError: 403 for an impersonation the caller's RBAC does not allow.
        """
        header = headers.get("Authorization", "")
        with self.engine.lock:
            user = ADMIN if self.authorized(header) else \
                self.engine.policy.auth.authenticate(header[len("Bearer "):].strip()) \
                if header.startswith("Bearer ") else None
            wanted = headers.get("Impersonate-User")
            if user is None or wanted is None:
                return user
            return impersonate(self.engine.store, user, wanted, list(headers.getall("Impersonate-Group", [])))

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
    """An API server: the process-wide singleton (:meth:`shared`) or a private instance (benchmarks, tests)."""

    _shared: ClassVar[SimServer | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.identity: ServerIdentity | None = None
        """Its TLS identity (made at :meth:`start`); clients trust ``identity.certificate_pem``."""
        self.clusters: dict[int, HostedCluster] = {}
        self._sites: dict[int, web.SockSite] = {}
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

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

    def start(self) -> None:
        if self.running:
            return
        self.identity = self.identity or make_identity(self.host)
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
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        try:
            loop.run_until_complete(self._runner.setup())
        except BaseException as exc:  # reported to start()'s caller
            failure.append(exc)
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def _call(self, coroutine: Any) -> Any:
        if self._loop is None:
            raise RuntimeError("the simulated API server is not started")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def register(self, hosted: HostedCluster) -> str:
        """Host a cluster on a fresh port; returns its URL (what a kubeconfig's ``server`` says)."""
        self.start()
        return f"https://{self.host}:{self._call(self._open(hosted))}"

    async def _open(self, hosted: HostedCluster) -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        port = sock.getsockname()[1]
        if self._runner is None or self.identity is None:
            raise RuntimeError("the simulated API server is not started")
        site = web.SockSite(self._runner, sock, ssl_context=self.identity.context)
        await site.start()
        self._sites[port], self.clusters[port] = site, hosted
        return port

    def unregister(self, url: str) -> None:
        port = int(url.rstrip("/").rsplit(":", 1)[-1])
        if port in self._sites and self.running:
            self._call(self._close(port))

    async def _close(self, port: int) -> None:
        self.clusters.pop(port, None)
        await self._sites.pop(port).stop()

    # ------------------------------------------------------------------------------------------------ handlers
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        hosted = self.clusters.get(sockname[1]) if sockname else None
        if hosted is None:
            body = status_object(404, "NotFound", "this cluster has been closed")
            return web.Response(status=404, body=_dumps(body), content_type="application/json")
        try:
            user = hosted.authenticate(request.headers)
        except ApiError as exc:
            return web.Response(status=exc.code, body=_dumps(exc.status()), content_type="application/json")
        if user is None:
            return web.Response(status=401, body=_dumps(UNAUTHORIZED), content_type="application/json")
        if EXEC_PATH.match(request.path):
            return await serve_exec(request, hosted, user, self.identity.certificate_pem if self.identity else "")
        call = Call(request.method, [s for s in request.path.split("/") if s], request.query,
                    request.headers.get("Content-Type", ""), request.headers.get("Accept", ""), await request.read(),
                    user)
        engine = hosted.engine
        with engine.lock:
            try:
                result = route(engine, call)
                if isinstance(result, Reply) and result.mutated:
                    engine.reconcile()
                    hosted.watch_used_s = 0.0
                elif isinstance(result, Reply) and result.status == 429:
                    hosted.idle_step()
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
                          lambda *event: loop.call_soon_threadsafe(queue.put_nowait, event),
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
                kind = plan.selected(*item)
                if kind is None:
                    continue
                obj = item[1]
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
