"""Probe verdicts from a program's answers: an HTTP or gRPC probe passes when the program serves on the probed
port and answers yes; a TCP probe when something listens there; an exec probe takes the program's answer.
An HTTP probe of an ``opsgym_runtime`` program is judged by its path as the real server answers it: the liveness
paths say whether it is live, the readiness paths whether it is ready, ``/`` and its routes answer 200 and any
other path 404. Failure texts are the kubelet's, so ``describe`` shows what a real node would.

Probe timing (a program that warms up before its port opens, a startupProbe holding the other probes back) is
arithmetic over the probe's schedule, not a per-period loop: :func:`first_pass`.
"""

from __future__ import annotations

import math
import types
from typing import Any

from opsgym.runtime.opsgym_runtime import endpoint
from opsgym.runtime.sim import listens

__all__ = ["COLD", "first_pass", "opens_at", "probe_failure", "probe_passes"]

Obj = dict[str, Any]
COLD = types.SimpleNamespace(port=None, ports=(), ready=False, live=False, answer=None, routes=None)
"""What a probe finds in a program that has not opened its port yet: nothing listens (connection refused)."""


def _target(probe: Obj, container: Obj) -> int | None:
    handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc") or {}
    port = handler.get("port")
    if isinstance(port, str) and not port.isdigit():
        return next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)
    try:
        return int(port) if port is not None else None
    except (TypeError, ValueError):
        return None


def _program_status(probe: Obj, run: Any) -> int | None:
    """The status an ``opsgym_runtime`` program answers an HTTP probe with, or None when ``run`` is no serving
    program (a route counts as 200: without its dependencies' answers, the best it can do)."""
    routes = getattr(run, "routes", None)
    if routes is None:
        return None
    kind = endpoint(str(probe["httpGet"].get("path") or "/"), routes)
    if kind in ("live", "ready"):
        return 200 if getattr(run, kind, False) else 503
    return 200 if kind else 404


def probe_passes(probe: Obj, container: Obj, run: Any, answer: str) -> bool:
    """Whether ``probe`` succeeds against a running program; ``answer`` is ``ready`` or ``live``."""
    says_yes = bool(getattr(run, answer, False))
    if "exec" in probe:
        return says_yes
    serving = listens(run, _target(probe, container))
    if serving and "httpGet" in probe and getattr(run, "answer", None) is not None:  # a generic server's own answer
        return 200 <= run.answer(probe["httpGet"].get("path", "/"))[0] < 400
    if serving and "httpGet" in probe and getattr(run, "routes", None) is not None:
        return _program_status(probe, run) == 200
    return serving if "tcpSocket" in probe else serving and says_yes


def probe_failure(probe: Obj, container: Obj, run: Any, ip: str) -> str:
    """The kubelet's message for a failed probe."""
    port = _target(probe, container)
    serving = listens(run, port)
    if "httpGet" in probe:
        path = probe["httpGet"].get("path", "/")
        if not serving:
            scheme = str(probe["httpGet"].get("scheme", "HTTP")).lower()
            return f'Get "{scheme}://{ip}:{port}{path}": dial tcp {ip}:{port}: connect: connection refused'
        status = run.answer(path)[0] if getattr(run, "answer", None) is not None else \
            _program_status(probe, run) or 503
        return f"HTTP probe failed with statuscode: {status}"
    if "tcpSocket" in probe:
        return f"dial tcp {ip}:{port}: connect: connection refused"
    if "grpc" in probe:
        return f'timeout: failed to connect service "{ip}:{port}" within 1s' if not serving else \
            "service unhealthy (responded with \"NOT_SERVING\")"
    return f"command {' '.join(probe['exec'].get('command') or [])!r} exited with 1"


def first_pass(first: float, period: float, since: float) -> float:
    """The first of a probe's runs (``first``, ``first + period``, ...) at or after ``since``: when a probe that
    fails until ``since`` (a port not yet open) first passes."""
    if since <= first:
        return first
    return first + period * math.ceil((since - first) / period)


def opens_at(run: Any, started: float) -> float:
    """When a container started at ``started`` opens its port: at once, or after its program's warm-up
    (``ContainerRun.starts_s``); until then probes, clients and ``curl`` are refused."""
    return started + float(getattr(run, "starts_s", 0.0) or 0.0)
