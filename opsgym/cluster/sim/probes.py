"""Probe verdicts from a program's answers: an HTTP or gRPC probe passes when the program serves on the probed
port and answers yes; a TCP probe when something listens there; an exec probe takes the program's answer.
Failure texts are the kubelet's, so ``describe`` shows what a real node would.
"""

from __future__ import annotations

from typing import Any

from opsgym.runtime.sim import listens

__all__ = ["probe_failure", "probe_passes"]

Obj = dict[str, Any]


def _target(probe: Obj, container: Obj) -> int | None:
    handler = probe.get("httpGet") or probe.get("tcpSocket") or probe.get("grpc") or {}
    port = handler.get("port")
    if isinstance(port, str) and not port.isdigit():
        return next((p.get("containerPort") for p in container.get("ports") or [] if p.get("name") == port), None)
    try:
        return int(port) if port is not None else None
    except (TypeError, ValueError):
        return None


def probe_passes(probe: Obj, container: Obj, run: Any, answer: str) -> bool:
    """Whether ``probe`` succeeds against a running program; ``answer`` is ``ready`` or ``live``."""
    says_yes = bool(getattr(run, answer, False))
    if "exec" in probe:
        return says_yes
    serving = listens(run, _target(probe, container))
    if serving and "httpGet" in probe and getattr(run, "answer", None) is not None:  # a generic server's own answer
        return 200 <= run.answer(probe["httpGet"].get("path", "/"))[0] < 400
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
        status = run.answer(path)[0] if getattr(run, "answer", None) is not None else 503
        return f"HTTP probe failed with statuscode: {status}"
    if "tcpSocket" in probe:
        return f"dial tcp {ip}:{port}: connect: connection refused"
    if "grpc" in probe:
        return f'timeout: failed to connect service "{ip}:{port}" within 1s' if not serving else \
            "service unhealthy (responded with \"NOT_SERVING\")"
    return f"command {' '.join(probe['exec'].get('command') or [])!r} exited with 1"
