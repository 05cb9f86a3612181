"""``pods/NAME/exec`` over the WebSocket protocol kubectl 1.32 speaks (``v5.channel.k8s.io``, also v4).

kubectl first offers a WebSocket upgrade and falls back to SPDY only when the upgrade fails; a real 1.32 API server
answers the WebSocket itself and translates to SPDY towards the kubelet. So, as there:

- errors found before the upgrade (no such pod, a container the pod does not declare, no command) are plain HTTP
  Status answers, which kubectl prints as ``Error from server (...)`` (its SPDY retry gets the same answer);
- errors of the kubelet and the runtime (a container that is not running, an executable that does not exist) come
  after the upgrade, as a ``Status`` on the error channel (3), wrapped by the API server's translator as an internal
  error; a command's exit code comes as ``NonZeroExitCode`` with an ``ExitCode`` cause, which kubectl exits with.

Frames are binary: one channel byte (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close) then data. With
``stdin=true`` the command's input is what arrives on channel 0 until the client closes it (v5) or hangs up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from opsgym.cluster.sim import rbac
from opsgym.cluster.sim.exec import ExecResult, run_exec
from opsgym.cluster.sim.status import status_object

if TYPE_CHECKING:
    from opsgym.cluster.sim.rbac import User
    from opsgym.cluster.sim.server import HostedCluster

__all__ = ["EXEC_PATH", "serve_exec"]

EXEC_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec/?$")
log = logging.getLogger(__name__)
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
STDIN_LIMIT = 1 << 20
"""Bytes of stdin a command may receive; the simulated commands read little, and a client must not fill memory."""
STDIN_WAIT_S = 30.0
"""Wall seconds to wait for the client's stdin to end (``kubectl exec -i`` with a pipe closes it at once)."""
STREAMS_READY_S = 0.015
"""Wall seconds between the upgrade and the first frame. client-go starts reading frames before it has registered its
streams and drops a frame for a stream it does not know yet ("Unknown stream id 3, discarding message") — losing the
exit status, so kubectl exited 0 for a failed command, about once in a few hundred execs here. A real exec reaches the
container through the kubelet and runc, tens of milliseconds; answering at once was the unreal part."""


def _reply(code: int, reason: str, message: str) -> web.Response:
    return web.Response(status=code, body=json.dumps(status_object(code, reason, message)).encode(),
                        content_type="application/json")


def _flag(query: Any, name: str) -> bool:
    return str(query.get(name, "")).lower() in ("1", "true")


def _precheck(hosted: HostedCluster, namespace: str, name: str, container: str, command: list[str],
              upgrade: bool) -> tuple[web.Response | None, dict[str, Any] | None, str]:
    """The API server's checks before it upgrades: (error answer, pod, container name)."""
    with hosted.engine.lock:
        pod = hosted.engine.store.get("pods", namespace, name)
    if pod is None:
        return _reply(404, "NotFound", f'pods "{name}" not found'), None, ""
    spec = pod.get("spec") or {}
    names = [c.get("name", "") for c in spec.get("containers") or []]
    every = names + [c.get("name", "") for c in (spec.get("initContainers") or []) + (
        spec.get("ephemeralContainers") or [])]
    if not container:
        if len(names) != 1:
            return _reply(400, "BadRequest", f"a container name must be specified for pod {name}, choose one of: "
                                             f"[{' '.join(names)}]"), None, ""
        container = names[0]
    elif container not in every:
        return _reply(400, "BadRequest", f"container {container} is not valid for pod {name}"), None, ""
    if not spec.get("nodeName"):
        return _reply(400, "BadRequest", f"pod {name} does not have a host assigned"), None, ""
    if not upgrade:
        return _reply(400, "BadRequest", "Upgrade request required"), None, ""
    if not command:
        return _reply(400, "BadRequest", "you must specify at least 1 command"), None, ""
    return None, pod, container


async def _read_stdin(ws: web.WebSocketResponse) -> bytes:
    data = bytearray()
    while len(data) < STDIN_LIMIT:
        try:
            msg = await asyncio.wait_for(ws.receive(), timeout=STDIN_WAIT_S)
        except asyncio.TimeoutError:
            break
        if msg.type != WSMsgType.BINARY or not msg.data:
            break
        channel, payload = msg.data[0], msg.data[1:]
        if channel == CLOSE and payload[:1] == bytes([STDIN]):
            break
        if channel == STDIN:
            data += payload
    return bytes(data[:STDIN_LIMIT])


def _error_status(result: ExecResult) -> dict[str, Any]:
    if result.failure is not None:
        return status_object(500, "InternalError", f"Internal error occurred: {result.failure}",
                             {"causes": [{"message": result.failure}]})
    if result.exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(result.argv)}], exit code {result.exit_code}",
            "details": {"causes": [{"reason": "ExitCode", "message": str(result.exit_code)}]}}


def _forbidden(hosted: HostedCluster, user: User, path: str) -> web.Response | None:
    """RBAC for ``pods/exec``: ``create``, also for the WebSocket's GET (1.30+ checks the create permission on a
    WebSocket upgrade, so a role with only ``get pods/exec`` cannot exec)."""
    if user is rbac.ADMIN:
        return None
    attrs = rbac.attributes("POST", [s for s in path.split("/") if s], {})
    with hosted.engine.lock:
        allowed, reason = rbac.authorize(hosted.engine.store, user, attrs)
    if allowed:
        return None
    error = rbac.forbidden(user, attrs, reason)
    return web.Response(status=error.code, body=json.dumps(error.status()).encode(), content_type="application/json")


async def serve_exec(request: web.Request, hosted: HostedCluster, user: User, ca_pem: str) -> web.StreamResponse:
    """Answer one exec request of the authenticated ``user``."""
    match = EXEC_PATH.match(request.path)
    if match is None or request.method not in ("GET", "POST"):
        return _reply(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    denied = _forbidden(hosted, user, request.path)
    if denied is not None:
        return denied
    command = request.query.getall("command", [])
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=STDIN_LIMIT)
    error, pod, container = _precheck(hosted, match.group(1), match.group(2), request.query.get("container", ""),
                                      command, ws.can_prepare(request).ok)
    if error is not None or pod is None:
        return error or _reply(500, "InternalError", "Internal error occurred: no pod")
    await ws.prepare(request)
    try:
        stdin = await _read_stdin(ws) if _flag(request.query, "stdin") else b""
        await asyncio.sleep(STREAMS_READY_S)
        tty = _flag(request.query, "tty")
        with hosted.engine.lock:
            current = hosted.engine.store.get("pods", match.group(1), match.group(2))
            try:
                result = run_exec(hosted.engine, current or pod, container, command, stdin, ca_pem=ca_pem)
            except Exception as exc:  # a simulator bug must not take the server down; the client sees an error
                log.exception("embedded cluster: exec %s failed", command)
                result = ExecResult(command, failure=f"opsgym embedded cluster: exec failed: {exc!r}")
        if result.stdout and _flag(request.query, "stdout"):
            await ws.send_bytes(bytes([STDOUT]) + result.stdout.replace(b"\n", b"\r\n") if tty else
                                bytes([STDOUT]) + result.stdout)
        if result.stderr and (_flag(request.query, "stderr") or tty):
            await ws.send_bytes(bytes([STDOUT if tty else STDERR]) + result.stderr)
        await ws.send_bytes(bytes([ERROR]) + json.dumps(_error_status(result)).encode())
    except (ConnectionResetError, RuntimeError):
        pass
    finally:
        await ws.close()
    return ws
