"""Containers that are not one of the app's programs (nginx, busybox, redis, a ``kubectl run`` debug pod, a Job's
``busybox -- sh -c "echo hi; exit 3"``): what they do is decided from the spec and the image catalog only.

The kubelet starts every container with the argv containerd would build (the spec's ``command``/``args`` over the
image's ENTRYPOINT/CMD, :func:`opsgym.cluster.sim.images.container_command`). With the default runtime:

- ``python FILE`` is a program and runs in :mod:`opsgym.runtime.sim`, unchanged.
- A catalogued server (``daemons`` in ``images.yaml``: nginx, redis-server, postgres, coredns, kube-proxy...), also
  behind the image's entrypoint script, keeps running and listens on its ports: TCP probes there pass, HTTP ones get
  the daemon's answer (nginx serves its document root: the image's welcome page unless a volume is mounted there),
  and ``wget``/``curl`` from another pod get the same answer. ``python3 -m http.server [PORT]`` serves its directory
  the same way, with Python's listing pages. Servers print nothing to their log.
- A command the ``kubectl exec`` interpreter knows (``echo``, ``date``, ``env``, ``sh -c "..."``, ``wget``,
  ``sleep N``...) runs through that interpreter with the container's env, files and network view. Its stdout and
  stderr are the container's log; it exits with its code one virtual second after it starts (as programs do), or
  when its ``sleep``s are over if that is later (``ContainerRun.runs_s``). ``sleep infinity`` and ``tail -f`` never
  end; a shell reading a stdin that stays open (``stdin: true``) neither.
- Anything else (``python -c``, ``node app.js``, an executable of an image no catalog names, shell syntax the reader
  does not know) is a process the simulator cannot play: it keeps running, silent, without listening anywhere (so
  an exec probe passes and HTTP/TCP probes fail), as before this module existed.

An executable a catalogued image does not ship never gets here: the kubelet refuses it first (StartError, exit 128).
"""

from __future__ import annotations

import functools
import html
import posixpath
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.exec import FOREVER, SHELLS, UNSIMULATED, interpret
from opsgym.cluster.sim.exec import context as exec_context
from opsgym.cluster.sim.execnet import error_page
from opsgym.cluster.sim.exectools import Context, follow
from opsgym.cluster.sim.images import Daemon, daemon, image_config
from opsgym.runtime.sim import GENERIC_MEMORY_MB, ContainerRun, is_program, run_container

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["runtime"]

Obj = dict[str, Any]
WRAPPERS = frozenset({"docker-entrypoint.sh", "entrypoint.sh", "dumb-init", "tini"})
"""Entrypoint scripts and init shims that end by exec'ing their arguments (``dumb-init --``, ``tini --``)."""


def runtime(engine: Engine, pod: Obj, container_name: str) -> Callable[..., ContainerRun]:
    """The default container runtime for one container of ``pod`` (``run_container``'s signature)."""
    def run(**kwargs: Any) -> ContainerRun:
        command = list(kwargs["command"])
        if is_program(command):
            return run_container(**kwargs)
        container = _container(pod, container_name)
        limit = kwargs.get("memory_limit_mb")
        if container is None or (limit is not None and GENERIC_MEMORY_MB > limit):
            return run_container(**kwargs)
        return start(engine, pod, container, command, kwargs) or run_container(**kwargs)

    return run


def _container(pod: Obj, name: str) -> Obj | None:
    spec = pod.get("spec") or {}
    return next((c for group in ("containers", "initContainers", "ephemeralContainers")
                 for c in spec.get(group) or [] if c.get("name") == name), None)


def _unwrapped(command: list[str]) -> list[str]:
    """The argv an entrypoint script or init shim ends up exec'ing."""
    while command and posixpath.basename(command[0]) in WRAPPERS:
        command = command[1:]
        command = command[1:] if command[:1] == ["--"] else command
    return command


def start(engine: Engine, pod: Obj, container: Obj, command: list[str], inputs: dict[str, Any]) -> ContainerRun | None:
    """What the container's main process does, or None when the simulator cannot play it."""
    argv = _unwrapped(command)
    if not argv:
        return None
    now = engine.clock.now
    server = daemon(argv[0]) or _http_server(container.get("workingDir") or "/", argv)
    if server is not None:  # its files are looked at when it is first asked (most servers never are)
        view = functools.cache(lambda: exec_context(engine, pod, container, inputs, now))
        return ContainerRun((), None, "", GENERIC_MEMORY_MB, True, True, server.ports[0] if server.ports else None,
                            lambda path: _http(server, view(), path), ports=server.ports)
    if argv[0].rsplit("/", 1)[-1] not in (image_config(str(container.get("image", ""))).bin or ()):
        return None
    ctx = exec_context(engine, pod, container, inputs, now)
    stdin_open = bool(container.get("stdin")) and not container.get("stdinOnce")
    result = interpret(ctx, argv, "")
    if ctx.unsimulated:
        return None
    if stdin_open and argv[0].rsplit("/", 1)[-1] in SHELLS and len(argv) == 1:
        ctx.elapsed = FOREVER
    logs = tuple("".join(result.log).splitlines())
    if ctx.elapsed == FOREVER:
        return ContainerRun(logs, None, "", GENERIC_MEMORY_MB, True, True, None)
    code = result.code % 256
    return ContainerRun(logs, code, "Completed" if code == 0 else "Error", GENERIC_MEMORY_MB, True, True, None,
                        runs_s=ctx.elapsed)


def _http_server(cwd: str, argv: list[str]) -> Daemon | None:
    """``python3 -m http.server [-b ADDR] [-d DIR] [PORT]``: a file server on PORT (8000) for DIR (the cwd)."""
    if argv[0].rsplit("/", 1)[-1] not in UNSIMULATED or argv[1:3] != ["-m", "http.server"]:
        return None
    port, directory, words = 8000, cwd, argv[3:]
    while words:
        word = words.pop(0)
        if word in ("-d", "--directory", "-b", "--bind", "-p", "--protocol") and words:
            value = words.pop(0)
            directory = posixpath.join(cwd, value) if word in ("-d", "--directory") else directory
        elif word.isdigit():
            port = int(word)
        elif word != "--cgi":
            return None
    return Daemon((port,), {}, directory, error_page(404), autoindex=True)


def _listing(ctx: Context, directory: str, shown: str) -> str:
    """The page ``http.server`` lists a directory with (its own HTML, names sorted case-insensitively)."""
    prefix = directory.rstrip("/") + "/"
    names = sorted({p[len(prefix):].split("/", 1)[0] for p in ctx.files if p.startswith(prefix) and p != prefix},
                   key=str.lower)
    title = f"Directory listing for {html.escape(shown, quote=False)}"
    lines = ["<!DOCTYPE HTML>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             f"<title>{title}</title>\n</head>", f"<body>\n<h1>{title}</h1>", "<hr>\n<ul>"]
    for name in names:
        resolved = follow(ctx, prefix + name)
        link = name + "/" if resolved is not None and ctx.files[resolved].is_dir else name
        shown_name = name + "@" if ctx.files[prefix + name].target is not None else link
        lines.append(f'<li><a href="{urllib.parse.quote(link)}">{html.escape(shown_name, quote=False)}</a></li>')
    lines.append("</ul>\n<hr>\n</body>\n</html>\n")
    return "\n".join(lines)


def _http(server: Daemon, ctx: Context, path: str) -> tuple[int, str]:
    """The daemon's answer to ``GET path``: its fixed routes, then files under its document root."""
    path = path.partition("?")[0] or "/"
    if path in server.http:
        return server.http[path]
    if server.docroot:
        target = follow(ctx, posixpath.join(server.docroot, path.lstrip("/")))
        entry = ctx.files.get(target) if target else None
        if entry is not None and entry.is_dir:
            directory = target or "/"
            target = follow(ctx, posixpath.join(directory, "index.html"))
            entry = ctx.files.get(target) if target else None
            if entry is None and server.autoindex:
                return 200, _listing(ctx, directory, path)
        if entry is not None and entry.content is not None:
            return 200, entry.content
    return 404, server.missing
