"""The simulated runtime: what the embedded cluster's kubelet learns by "running" a container.

The kubelet calls :func:`run_container` whenever a container starts. When the container's command is
``python PATH`` and ``PATH`` is a mounted program, the program's real source runs in-process against the real
``opsgym_runtime`` module with a simulated host swapped in: no sockets, no threads, no real memory, no real clock, a
bounded number of program lines. The answer (logs, exit code, peak memory, probe answers) is deterministic for the
same inputs and seed. A serving program can then be asked requests (``ContainerRun.answer``): its routes run
in-process too, and their calls to dependencies go to whatever ``request`` callable the caller wired in (the SRE
end-state check wires the cluster's Services, so one request flows through the whole app).

Only trusted programs run: those shipped under ``envs/_apps/*/programs`` and any source passed to :func:`trust`.
An agent can edit the programs ConfigMap; an edited program is refused (the container exits 1 and says why) instead
of executing agent-written code in this process.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import posixpath
import random
import sys
import traceback
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BASE_MEMORY_MB", "GENERIC_MEMORY_MB", "LINE_BUDGET", "ContainerRun", "is_program", "listens",
           "run_container", "trust"]

BASE_MEMORY_MB = 20.0
"""Resident memory of an idle interpreter serving probes (measured: ~21 MB on CPython 3.11); allocations come on top."""

GENERIC_MEMORY_MB = 8.0
"""Memory of a container that is not a Python program (a generic long-running process)."""

LINE_BUDGET = 200_000
"""Program lines a container may execute before the sim treats it as hung (running, but answering no probe)."""

RUNTIME_MODULE = "opsgym_runtime"
RUNTIME_SOURCE = Path(__file__).with_name("opsgym_runtime.py")
PYTHONS = frozenset({"python", "python3", "python3.10", "python3.11", "python3.12", "python3.13"})
SAFE_MODULES = frozenset({
    "__future__", "base64", "collections", "collections.abc", "dataclasses", "enum", "functools", "hashlib",
    "itertools", "json", "math", "re", "statistics", "string", "textwrap", "typing",
})
"""Standard modules a program may import in the sim (pure computation: no I/O, clocks, threads or sockets)."""


@dataclass(frozen=True)
class ContainerRun:
    """What one container start did, as far as the kubelet needs to know."""

    logs: tuple[str, ...]
    exit_code: int | None
    reason: str
    memory_mb: float
    ready: bool
    live: bool
    port: int | None
    answer: Callable[[str], tuple[int, str]] | None = field(default=None, compare=False, repr=False)
    """For a serving program started with a ``request`` callable: ``answer(path) -> (status, body)``, a request to one
    of its routes (None otherwise, so the kubelet's many runs do not keep their programs alive). A generic server
    (nginx...) always carries its answer: it is a fixed function of its image and files."""
    ports: tuple[int, ...] = ()
    """Further ports it listens on (a generic server may listen on several; a program serves ``port`` only)."""
    runs_s: float = 0.0
    """For a process that exits: how long it runs before exiting, when longer than the kubelet's one second."""
    routes: tuple[str, ...] | None = None
    """For a serving program: the paths of its routes (with its probe endpoints and ``/``, what it answers; any other
    path is a 404). None for anything else, whose answer to a path the kubelet cannot tell."""
    starts_s: float = 0.0
    """For a serving program that warms up first (``STARTUP_DELAY_S``): how long after its start its port opens.
    Until then connections are refused; its last log line (``listening``) is written then."""


def listens(run: Any, port: int | None) -> bool:
    """Whether a started container listens on ``port`` (a program on its one port, a generic server on its own)."""
    return port is not None and (getattr(run, "port", None) == port or port in (getattr(run, "ports", ()) or ()))


Request = Callable[[str, int, str], tuple[int, str]]
"""``request(host, port, path) -> (status, body)``: where a program's calls to its dependencies go (0: no answer)."""


def _no_network(host: str, port: int, path: str) -> tuple[int, str]:
    return 0, "ConnectionRefusedError: no requests are simulated in this run"


class _Stop(BaseException):
    """Control flow (BaseException, so `except Exception` in a program cannot swallow it): the process exits."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code)
        self.code, self.reason = code, reason


class _Serving(BaseException):
    def __init__(self, port: int, ready: bool, live: bool, routes: dict[str, Any], warmup_s: float) -> None:
        super().__init__(port)
        self.port, self.ready, self.live, self.routes, self.warmup_s = port, ready, live, routes, warmup_s


class _Hung(BaseException):
    pass


_trusted: set[str] = set()


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def trust(source: str) -> None:
    """Allow the sim to run ``source`` (for programs that are not shipped under ``envs/_apps``, e.g. in tests)."""
    _trusted.add(_digest(source))


@functools.cache
def _shipped_digests() -> frozenset[str]:
    from opsgym.tasks import envs_root

    return frozenset(_digest(p.read_text(encoding="utf-8")) for p in envs_root().glob("_apps/*/programs/*.py"))


def _is_trusted(source: str) -> bool:
    digest = _digest(source)
    return digest in _trusted or digest in _shipped_digests()


@functools.cache
def _runtime_code() -> tuple[types.CodeType, tuple[str, ...]]:
    source = RUNTIME_SOURCE.read_text(encoding="utf-8")
    return compile(source, str(RUNTIME_SOURCE), "exec"), tuple(source.splitlines())


@functools.lru_cache(maxsize=256)
def _compile(path: str, source: str) -> types.CodeType:
    return compile(source, path, "exec", dont_inherit=True)


class _SimHost:
    """The simulated world behind ``opsgym_runtime._host``."""

    def __init__(self, *, argv: list[str], env: dict[str, str], files: dict[str, str], memory_limit_mb: float | None,
                 resolve: Callable[[str, int], bool | str], lookup: Callable[[str], bool | str] | None, now: float,
                 seed: int, request: Request = _no_network) -> None:
        self.argv = list(argv)
        self.random = random.Random(seed)
        self._clock_rng = random.Random(seed ^ 0x5EED)
        self._env, self._files, self._limit = dict(env), files, memory_limit_mb
        self._resolve, self._lookup, self._request = resolve, lookup, request
        self.t = now
        self.logs: list[str] = []
        self.allocated_mb = 0.0

    @property
    def memory_mb(self) -> float:
        return BASE_MEMORY_MB + self.allocated_mb

    def environ(self) -> dict[str, str]:
        return dict(self._env)

    def read_file(self, path: str) -> str:
        key = posixpath.normpath(posixpath.join("/", path))
        if key not in self._files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return self._files[key]

    def now(self) -> float:
        return self.t

    def write(self, line: str) -> None:
        self.logs.append(line)
        self.t += 0.001 + self._clock_rng.random() * 0.004

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, float(seconds))

    def exit(self, code: int) -> None:
        raise _Stop(code)

    def allocate(self, mb: float) -> None:
        self.allocated_mb += max(0.0, mb)
        if self._limit is not None and self.memory_mb > self._limit:
            raise _Stop(137, "OOMKilled")

    def connect(self, host: str, port: int, timeout_s: float) -> str:
        found = self._lookup(host) if self._lookup is not None else True
        if isinstance(found, str):  # a failure worded by the network (e.g. DNS unreachable under a NetworkPolicy)
            return found
        if not found:
            return "unresolvable: [Errno -2] Name or service not known"
        reached = self._resolve(host, port)
        if isinstance(reached, str):  # dropped, not refused: the connect waits out its timeout
            self.t += timeout_s
            return reached
        if reached:
            return "ok"
        if self._lookup is None:
            return "unresolvable: [Errno -2] Name or service not known"
        self.t += 0.001
        return "refused: [Errno 111] Connection refused"

    def request(self, host: str, port: int, path: str, timeout_s: float) -> tuple[int, str]:
        self.t += 0.001
        return self._request(host, port, path)

    def serve(self, port: int, ready: Any, live: Any, status: dict, listening: Callable[[], None],
              routes: dict[str, Any], warmup_s: float = 0.0) -> None:
        self.t += warmup_s
        listening()
        answer = lambda probe: bool(probe() if callable(probe) else probe)  # noqa: E731
        raise _Serving(port, answer(ready), answer(live), routes, warmup_s)


class _Program:
    """One container's program run: module loading with the sim runtime, tracing, and the traceback on a crash."""

    def __init__(self, host: _SimHost, files: dict[str, str], path: str) -> None:
        self.host, self.files, self.path = host, files, path
        self.directory = posixpath.dirname(path)
        self.modules: dict[str, types.ModuleType] = {}
        self.sources: dict[str, tuple[str, ...]] = {}
        self.lines = 0
        self.builtins = dict(vars(builtins))
        self.builtins["__import__"] = self._import
        self.builtins["open"] = self._no_open
        self.builtins["input"] = self._no_open

    def _no_open(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("use opsgym_runtime.read_file in service programs (the embedded cluster has no disk)")

    def _import(self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if level:
            raise ImportError("attempted relative import with no known parent package")
        top = name.partition(".")[0]
        if top in self.modules:
            return self.modules[top]
        sibling = f"{self.directory}/{top}.py"
        if sibling in self.files:
            return self._load_sibling(top, sibling)
        if name in SAFE_MODULES or top in SAFE_MODULES:
            return builtins.__import__(name, globals, locals, fromlist, level)
        raise ModuleNotFoundError(f"No module named {top!r}", name=top)

    def _load_sibling(self, name: str, path: str) -> types.ModuleType:
        module = types.ModuleType(name)
        module.__file__ = path
        if name == RUNTIME_MODULE:  # the shipped runtime, with the simulated host swapped in
            code, lines = _runtime_code()
            self.sources[code.co_filename] = lines
            exec(code, module.__dict__)
            module.__dict__["_host"] = self.host
        else:
            self._exec(module, path)
        self.modules[name] = module
        return module

    def _exec(self, module: types.ModuleType, path: str) -> None:
        source = self.files[path]
        if not _is_trusted(source):
            raise _Refused(path)
        self.sources[path] = tuple(source.splitlines())
        module.__dict__["__builtins__"] = self.builtins
        exec(_compile(path, source), module.__dict__)

    def _trace(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename in self.files:
            return self._count
        return None

    def _count(self, frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            self.lines += 1
            if self.lines > LINE_BUDGET:
                raise _Hung()
        return self._count

    def _traced(self, work: Callable[[], Any]) -> Any:
        self.lines = 0
        previous = sys.gettrace()
        sys.settrace(self._trace)
        try:
            return work()
        finally:
            sys.settrace(previous)

    def run(self) -> None:
        main = types.ModuleType("__main__")
        main.__file__ = self.path
        self._traced(lambda: self._exec(main, self.path))

    def answer(self, routes: dict[str, Any], path: str) -> tuple[int, str]:
        """One request to the serving program, traced and bounded like its start-up (a fresh line budget)."""
        if path not in routes:
            return 404, f"no route {path}"
        try:
            return self._traced(lambda: self.modules[RUNTIME_MODULE].answer_route(routes, path))
        except _Hung:
            return 504, "the request did not finish (the program is hung)"
        except (_Stop, _Serving):
            return 502, "the program exited while answering"
        except Exception as exc:
            return 500, self.traceback_lines(exc)[-1]

    def traceback_lines(self, exc: BaseException) -> list[str]:
        """A Python-style traceback showing only the container's own files (what ``python`` would print there)."""
        lines = ["Traceback (most recent call last):"]
        runtime_file = str(RUNTIME_SOURCE)
        for frame in traceback.extract_tb(exc.__traceback__):
            filename = frame.filename
            if filename == runtime_file:
                filename = f"{self.directory}/{RUNTIME_MODULE}.py"
            elif filename not in self.files:
                continue
            lines.append(f'  File "{filename}", line {frame.lineno}, in {frame.name}')
            source = self.sources.get(frame.filename, ())
            if frame.lineno and 0 < frame.lineno <= len(source):
                lines.append(f"    {source[frame.lineno - 1].strip()}")
        lines += traceback.format_exception_only(type(exc), exc)[-1].rstrip("\n").splitlines()
        return lines


class _Refused(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _program_path(command: list[str]) -> tuple[str, list[str]] | None:
    """``(path, argv)`` when ``command`` runs a Python file, else None (a generic container)."""
    if not command or posixpath.basename(command[0]) not in PYTHONS:
        return None
    args = command[1:]
    while args and args[0].startswith("-") and args[0] not in ("-", "-c", "-m"):
        args = args[1:]
    if not args or args[0].startswith("-"):
        return None
    return args[0], args


def is_program(command: list[str]) -> bool:
    """Whether ``command`` runs a Python file (one of the app's programs, if it is trusted): ``python [opts] PATH``."""
    return _program_path(command) is not None


def _generic(memory_limit_mb: float | None) -> ContainerRun:
    """A process the simulator cannot play: it keeps running, silent, listening nowhere (the embedded cluster's
    kubelet first tries :mod:`opsgym.cluster.sim.generic`, which plays shell commands and catalogued servers)."""
    if memory_limit_mb is not None and GENERIC_MEMORY_MB > memory_limit_mb:
        return ContainerRun((), 137, "OOMKilled", memory_limit_mb, False, False, None)
    return ContainerRun((), None, "", GENERIC_MEMORY_MB, True, True, None)


def _exited(host: _SimHost, logs: list[str], code: int, reason: str = "") -> ContainerRun:
    reason = reason or ("Completed" if code == 0 else "Error")
    memory = host._limit if reason == "OOMKilled" and host._limit is not None else host.memory_mb
    return ContainerRun(tuple(logs), code, reason, memory, False, False, None)


def run_container(*, command: list[str], env: dict[str, str], files: dict[str, str],
                  memory_limit_mb: float | None, resolve: Callable[[str, int], bool | str], now: float, seed: int,
                  lookup: Callable[[str], bool | str] | None = None, request: Request | None = None) -> ContainerRun:
    """Start a container in the simulated world and report what it did.

    Args:
        command: the container's argv (``command`` + ``args``). ``python PATH`` with PATH in ``files`` runs the program.
        env: the container's resolved environment.
        files: absolute path → content of the pod's mounted ConfigMap/Secret keys.
        memory_limit_mb: the container's memory limit; going over it is an OOMKill (exit 137).
        resolve: whether a TCP connect from this pod to ``(host, port)`` would succeed, or the failure the connect
            reports instead of "refused" (``"timeout: timed out"`` for a connection a NetworkPolicy drops).
        now: virtual unix time at which the container starts (log timestamps).
        seed: makes the run reproducible (timestamps' jitter, the program's ``random()``). Give every start its own
            seed (e.g. derived from the pod's name and restart count), as a real restart would draw new randomness.
        lookup: optional: whether ``host`` resolves at all (a Service of that name exists). With it, a Service that
            exists but refuses (no ready endpoints) degrades its clients instead of crashing them; without it, a
            failed ``resolve`` reads as a name that does not resolve, which crashes the client. A string answer is
            the lookup's failure as the program sees it (DNS unreachable).
        request: where the program's ``call``s to dependencies go once it serves and is asked a request through
            ``ContainerRun.answer``, which is only offered when ``request`` is given.
    """
    target = _program_path(command)
    if target is None:
        return _generic(memory_limit_mb)
    path, argv = target
    key = posixpath.normpath(posixpath.join("/", path))
    host = _SimHost(argv=argv, env=env, files=files, memory_limit_mb=memory_limit_mb, resolve=resolve,
                    lookup=lookup, now=now, seed=seed, request=request or _no_network)
    if key not in files:
        name = posixpath.basename(command[0])
        line = f"{name}: can't open file '{path}': [Errno 2] No such file or directory"
        return _exited(host, [line], 2)
    if memory_limit_mb is not None and BASE_MEMORY_MB > memory_limit_mb:
        return _exited(host, [], 137, "OOMKilled")
    program = _Program(host, files, key)
    try:
        program.run()
    except _Serving as serving:
        answer = functools.partial(program.answer, serving.routes) if request is not None else None
        return ContainerRun(tuple(host.logs), None, "", host.memory_mb, serving.ready, serving.live, serving.port,
                            answer, routes=tuple(serving.routes), starts_s=serving.warmup_s)
    except _Stop as stop:
        return _exited(host, host.logs, stop.code, stop.reason)
    except _Hung:
        return ContainerRun(tuple(host.logs), None, "", host.memory_mb, False, False, None)
    except _Refused as refused:
        note = (f"opsgym sim: refusing to run {refused.path}: it is not one of the task's shipped programs "
                "(the embedded cluster only runs trusted code); restore the programs ConfigMap from the manifests")
        return _exited(host, [*host.logs, note], 1)
    except SystemExit as done:
        code = done.code
        if code is None or isinstance(code, int):
            return _exited(host, host.logs, int(code or 0))
        return _exited(host, [*host.logs, str(code)], 1)
    except Exception as exc:
        return _exited(host, [*host.logs, *program.traceback_lines(exc)], 1)
    return _exited(host, host.logs, 0)
