"""Run untrusted commands under bubblewrap: no network, its own user, no capabilities, only the workspace writable.

What the sandbox sees is :mod:`opsgym.swe.sandbox_view`: the system, the interpreter with only the test
dependencies installed — nothing else of the host: not ``/root``, not ``/home``, not opsgym or its task catalog (so an
agent cannot read a gold patch). Namespaces: PID, network (only ``lo``), IPC, UTS, cgroup.

Its own user, and why root is handled differently: RLIMIT_NPROC (the fork-bomb guard) does not apply to processes
whose real uid is host root — and inside an unprivileged user namespace made by root, uid 1000 *is* host root. So
when opsgym runs as root, bubblewrap runs without a user namespace and a tiny launcher inside keeps only
CAP_SETUID/CAP_SETGID to fork the command under a dedicated uid (one per sandbox, ``10_000_000 + pid*64 + n``).
Run as an ordinary user, bubblewrap makes a user namespace (uid 1000 inside) and NPROC is set above the user's
current process count. The launcher also sets the CPU, address-space and file-size limits, runs the command, and
reports on a pipe the command never holds: processes left behind and network attempts counted by the kernel
(``inside/launcher.py``); when it exits the PID namespace ends and the kernel kills what is left. On timeout the
host kills bwrap's process group; ``--die-with-parent`` then takes the namespace down.

Memory, CPU and processes: each process is capped by RLIMIT_AS, RLIMIT_CPU and RLIMIT_NPROC; where cgroups can be
made (:mod:`opsgym.swe.cgroup`) a command's processes are also capped together (:attr:`Sandbox.memory_scope`,
:attr:`Sandbox.cpu_scope`): memory, at most ``cpus`` cores of CPU time, ``nproc`` processes; and the CPU time they
used is reported (:attr:`SandboxResult.cpu_s`).

Test outcomes: a command run with ``report=True`` gets a pipe as descriptor 3 (``OPSGYM_REPORT_FD`` is set for
every command alike); ``inside/pytest_boot.py`` writes each test's outcome there (:mod:`opsgym.swe.test_report`).

Before each command the host gives the workspace root back the mode bubblewrap needs to enter it and makes a fresh
events folder, so nothing a previous command did to either (``chmod 000 /workspace``, a symlink or FIFO as the
events file) can fail the next one.

``unsafe-local`` runs commands directly (limits and timeout only, no isolation) for machines without bubblewrap,
and only when asked for by name.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsgym import plugins
from opsgym.errors import SandboxUnavailableError, UnknownSandboxError
from opsgym.swe.bounded import drain
from opsgym.swe.cgroup import SandboxCgroups
from opsgym.swe.sandbox_view import EVENTS_DIR, SITE, bwrap_command, python_view
from opsgym.swe.workspace import process_start_time, remove_tree, workspace_root

__all__ = ["Limits", "Sandbox", "SandboxResult", "network_events", "open_sandbox"]

_MODES = ("bwrap", "unsafe-local")
"""The two ways this class runs commands; the registry (hook ``register_sandbox_backends``) names the backends."""
INSTALL_HINT = ("install bubblewrap (`apt-get install bubblewrap`), or opt out of isolation explicitly with "
                "backend='unsafe-local' (runs the agent's commands directly on this machine)")
_INSIDE = Path(__file__).resolve().parent / "inside"
_OUTPUT_LIMIT = 1 << 20
_REPORT_LIMIT = 4 << 20
REPORT_FD = 3
"""The descriptor number a command run with ``report=True`` holds the outcome channel on."""
_uids = itertools.count()


@dataclass(frozen=True)
class Limits:
    """Per-command limits (``backend_options`` keys of the same names override them).

    ``memory_mb`` caps each process's address space (RLIMIT_AS), so a command of ``nproc`` processes could hold up to
    ``nproc × memory_mb``; where a memory cgroup can be made it also caps all of a command's processes together
    (``Sandbox.memory_scope == "command"``). ``cpus`` is the CPU time per second a command's processes may use
    together, in cores (``Sandbox.cpu_scope == "command"``); ``cpu_s`` caps each process's CPU time. ``nproc``
    caps the sandbox user's processes (RLIMIT_NPROC) and, where a pids cgroup can be made, the command's.
    ``workspace_mb`` and ``workspace_inodes`` are the workspace's quota (:class:`opsgym.swe.workspace.Workspace`);
    on a tmpfs quota the workspace's files are memory, counted in the memory cgroup of the command that wrote them.
    """

    timeout_s: float = 60.0
    cpu_s: int = 120
    memory_mb: int = 2048
    fsize_mb: int = 64
    nproc: int = 256
    tmp_mb: int = 256
    cpus: float = 1.0
    workspace_mb: int = 1024
    workspace_inodes: int = 100_000


@dataclass
class SandboxResult:
    """What one command did. ``events`` holds what the sandbox noticed: timeouts, limits, leftovers, network.

    ``report`` is what arrived on descriptor 3 (``run(report=True)``); ``cpu_s`` the CPU time the command's processes
    used together, where a cgroup accounts it.
    """

    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    started: bool = True
    report: bytes | None = None
    cpu_s: float | None = None

    @property
    def output(self) -> str:
        return self.stdout + (("\n" if self.stdout and not self.stdout.endswith("\n") else "") + self.stderr
                              if self.stderr else "")


def network_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events that are attempts to reach a network (a connect to the sandbox's own ``lo`` is not one)."""
    local = ("", "localhost", "::1", "0.0.0.0", "None")
    return [e for e in events if e.get("event") == "network"
            or (e.get("event") == "socket" and not (e.get("host") in local or str(e.get("host")).startswith("127.")))]


def _make_enterable(workdir: Path) -> None:
    """Give the working folder back ``rwxr-xr-x`` at least: bubblewrap must enter it, whatever a command did to it."""
    st = os.lstat(workdir)
    if stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o755 != 0o755:
        os.chmod(workdir, stat.S_IMODE(st.st_mode) | 0o755)


def _read_regular(path: Path) -> str:
    """A file the sandbox could write, read only if it is a regular file (never a link, FIFO or device), capped."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return ""
    with os.fdopen(fd, "rb") as fh:
        return fh.read(_OUTPUT_LIMIT).decode("utf-8", errors="replace")


def _json_lines(text: str, limit: int = 200) -> list[dict[str, Any]]:
    """The JSON objects among the first ``limit`` lines of ``text`` (anything else is skipped)."""
    found = []
    for line in text.splitlines()[:limit]:
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


def _user_process_count(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        try:
            count += name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid
        except OSError:
            continue
    return count


def open_sandbox(backend: str, **options: Any) -> Sandbox:
    """The registered SWE sandbox backend ``backend`` (``bwrap``, ``unsafe-local``, a plugin's), built with
    ``options`` (``python``, ``limits``, ``packages``); an unknown name fails with suggestions."""
    registry = plugins.entries("sandbox backend")
    if backend not in registry:
        raise UnknownSandboxError("SWE sandbox backend", backend, registry)
    return plugins.create("sandbox backend", backend, **options)


class Sandbox:
    """Runs commands for one episode's workspace(s).

    Args:
        backend: ``"bwrap"`` (default) or ``"unsafe-local"``.
        python: the interpreter (with pytest) the workspace's code runs on; default: the one running opsgym.
        limits: per-command limits.
        packages: the distributions the sandbox shows of ``python``'s installed ones (with what they require).

    Raises:
        SandboxUnavailableError: bubblewrap is missing or cannot start here (the message says how to fix it).
    """

    def __init__(self, backend: str = "bwrap", *, python: str | None = None, limits: Limits | None = None,
                 packages: tuple[str, ...] = ("pytest",)) -> None:
        if backend not in _MODES:
            raise UnknownSandboxError("SWE sandbox backend", backend, _MODES)
        self.backend = backend
        self.python = python or sys.executable
        self.limits = limits or Limits()
        self.packages = tuple(packages)
        self.as_root = os.geteuid() == 0
        uid = 10_000_000 + os.getpid() * 64 + next(_uids) % 64
        self.owner: tuple[int, int] | None = (uid, uid) if self.as_root and backend == "bwrap" else None
        self._dir = workspace_root() / f"{os.getpid()}-{process_start_time(os.getpid())}-sbx{uid}"
        remove_tree(self._dir)
        (self._dir / "site").mkdir(parents=True)
        (self._dir / "events").mkdir()
        shutil.copy(_INSIDE / "sitecustomize.py", self._dir / "site" / "sitecustomize.py")
        if self.owner:
            os.chown(self._dir / "events", *self.owner)
        self._finalizer = weakref.finalize(self, remove_tree, self._dir)
        self._cgroups = SandboxCgroups.create(f"sbx{uid}")
        if backend == "unsafe-local":
            warnings.warn("SWE sandbox backend 'unsafe-local': the agent's commands run UNISOLATED on this machine "
                          "(no network, filesystem or user isolation; only resource limits)", RuntimeWarning,
                          stacklevel=2)
        else:
            self._probe()

    # ------------------------------------------------------------------------------------------------- public
    @property
    def memory_scope(self) -> str:
        """``"command"`` when ``memory_mb`` caps a command's processes together, ``"process"`` when each one alone."""
        return "command" if self._cgroups is not None and self._cgroups.has("memory") else "process"

    @property
    def cpu_scope(self) -> str:
        """``"command"`` when ``cpus`` caps a command's processes together (and their CPU time is accounted)."""
        return "command" if self._cgroups is not None and self._cgroups.has("cpu") else "process"

    def run(self, argv: list[str], *, workdir: Path, timeout_s: float | None = None, stdin: str | None = None,
            limits: Limits | None = None, report: bool = False) -> SandboxResult:
        """Run ``argv`` with ``workdir`` as the writable current directory; never raises for what the command does.

        ``started`` in the result is False when the sandbox itself failed (the launcher never signalled on its
        private pipe), which callers report as an infrastructure failure rather than the agent's. ``report``: give
        the command descriptor 3, a pipe whose content comes back as ``result.report``.
        """
        limits = limits or self.limits
        timeout = timeout_s or limits.timeout_s
        events_file = self._fresh_events() / "events.jsonl"
        _make_enterable(workdir)
        oom_before, cpu_before = self._prepare_cgroups(limits)
        ready_r, ready_w = os.pipe()
        report_r, report_w = os.pipe() if report else (-1, -1)
        full = self._command(argv, workdir, limits, ready_w, report_w)
        env = self._env(workdir)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(full, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                                    cwd=workdir if self.backend == "unsafe-local" else None,
                                    pass_fds=tuple(fd for fd in (ready_w, report_w) if fd >= 0),
                                    preexec_fn=self._cgroups.join if self._cgroups is not None else None)
        finally:
            os.close(ready_w)
            if report_w >= 0:
                os.close(report_w)
        assert proc.stdout is not None and proc.stderr is not None  # PIPEs, and stdin one when ``stdin`` is given
        if stdin is not None and proc.stdin is not None:
            try:
                proc.stdin.write(stdin.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
        streams = {proc.stdout.fileno(): _OUTPUT_LIMIT, proc.stderr.fileno(): _OUTPUT_LIMIT}
        if report_r >= 0:
            streams[report_r] = _REPORT_LIMIT
        read, timed_out = drain(streams, started + timeout)
        out, err = read[proc.stdout.fileno()], read[proc.stderr.fileno()]
        if report_r >= 0:
            os.close(report_r)
        if timed_out:
            self._kill(proc)
        rc = self._wait(proc)
        if self.owner:
            self._await_teardown(self.owner[0])
        if self.backend == "unsafe-local":
            self._kill(proc)  # background processes die with the command's process group
        launched, launcher_events = self._launcher_says(ready_r)
        result = SandboxResult(rc, out.decode(errors="replace"), err.decode(errors="replace"),
                               time.monotonic() - started, timed_out, started=launched,
                               report=read.get(report_r) if report else None)
        result.events = launcher_events + self._events(events_file, result, limits, timeout)
        if self._cgroups is not None:
            if self._cgroups.oom_kills() > oom_before \
                    and not any(e.get("event") == "memory-limit" for e in result.events):
                result.events.append({"event": "memory-limit", "limit_mb": limits.memory_mb, "scope": "command"})
            cpu_after = self._cgroups.cpu_seconds()
            result.cpu_s = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
        return result

    def close(self) -> None:
        """Remove the sandbox's scratch folder and memory cgroup (idempotent)."""
        self._finalizer()
        if self._cgroups is not None:
            self._cgroups.close()

    # ----------------------------------------------------------------------------------------------- internals
    def _probe(self) -> None:
        if shutil.which("bwrap") is None:
            raise SandboxUnavailableError(f"bubblewrap (bwrap) is not installed, so opsgym refuses to run untrusted "
                                          f"code: {INSTALL_HINT}")
        probe = self.run(["/bin/true"], workdir=self._dir / "events", timeout_s=30)
        if not probe.started or probe.returncode != 0:
            raise SandboxUnavailableError(f"bubblewrap cannot start a sandbox here (exit {probe.returncode}: "
                                          f"{probe.stderr.strip()[:300]}); {INSTALL_HINT}")

    def _fresh_events(self) -> Path:
        """An empty events folder (the command may leave anything in the one it can write)."""
        folder = self._dir / "events"
        remove_tree(folder)
        folder.mkdir()
        if self.owner:
            os.chown(folder, *self.owner)
        return folder

    def _prepare_cgroups(self, limits: Limits) -> tuple[int, float | None]:
        """Set this command's limits on the cgroups; return the OOM-kill count and CPU time so far."""
        if self._cgroups is None:
            return 0, None
        self._cgroups.set_memory(limits.memory_mb)
        self._cgroups.set_cpus(limits.cpus)
        self._cgroups.set_pids(limits.nproc)
        return self._cgroups.oom_kills(), self._cgroups.cpu_seconds()

    @staticmethod
    def _launcher_says(ready_r: int) -> tuple[bool, list[dict[str, Any]]]:
        """Whether the launcher started the command, and the events it reported after it (one JSON a line)."""
        with os.fdopen(ready_r, "rb") as ready:
            head, _, rest = ready.read(_OUTPUT_LIMIT).partition(b"\n")
        return head == b"1", _json_lines(rest.decode(errors="replace"))

    def _env(self, workdir: Path) -> dict[str, str]:
        """The environment of every command alike: a test run under grading looks like the agent's own."""
        inside = self.backend == "bwrap"
        venv_bin = os.path.dirname(os.path.abspath(self.python))
        return {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp" if inside else str(workdir),
            "LANG": "C.UTF-8", "TERM": "dumb", "COLUMNS": "200", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": SITE if inside else str(self._dir / "site"), "PYTHONHASHSEED": "0", "PIP_NO_INDEX": "1",
            "OPSGYM_SANDBOX_EVENTS": f"{EVENTS_DIR}/events.jsonl" if inside
            else str(self._dir / "events" / "events.jsonl"),
            "OPSGYM_REPORT_FD": str(REPORT_FD),
        }

    def _command(self, argv: list[str], workdir: Path, limits: Limits, ready_fd: int, report_fd: int) -> list[str]:
        uid, gid = self.owner or (-1, -1)
        nproc = limits.nproc if self.owner else _user_process_count(os.getuid()) + limits.nproc
        isolated = "1" if self.backend == "bwrap" else "0"
        source = (_INSIDE / "launcher.py").read_text(encoding="utf-8")
        launcher = [self.python, "-I", "-S", "-c", source, str(uid), str(gid), str(nproc), str(limits.memory_mb),
                    str(limits.cpu_s), str(limits.fsize_mb), isolated, str(ready_fd), str(report_fd), "--", *argv]
        if self.backend == "unsafe-local":
            return launcher
        view = python_view(self.python, self.packages)
        return bwrap_command(view, as_root=self.as_root, tmp_mb=limits.tmp_mb, site=self._dir / "site",
                             events=self._dir / "events", workdir=workdir) + launcher

    @staticmethod
    def _await_teardown(uid: int, limit_s: float = 5.0) -> None:
        """Wait until the kernel has killed every process of the sandbox's uid (bwrap reports the command's exit
        before its PID namespace is fully torn down), so the next command starts from zero processes."""
        deadline = time.monotonic() + limit_s
        while _user_process_count(uid) and time.monotonic() < deadline:
            time.sleep(0.01)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._kill(proc)
            return proc.wait(timeout=10)
        finally:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()

    @staticmethod
    def _events(path: Path, result: SandboxResult, limits: Limits, timeout: float) -> list[dict[str, Any]]:
        events = _json_lines(_read_regular(path))
        if result.timed_out:
            events.append({"event": "timeout", "limit_s": timeout})
        signals = {128 + signal.SIGXCPU: ("cpu-limit", limits.cpu_s), 128 + signal.SIGXFSZ: ("file-size-limit",
                   limits.fsize_mb), 128 + signal.SIGKILL: ("killed", None)}
        if not result.timed_out and result.returncode in signals:
            name, limit = signals[result.returncode]
            events.append({"event": name, "limit": limit})
        if "File too large" in result.stderr and not any(e["event"] == "file-size-limit" for e in events):
            events.append({"event": "file-size-limit", "limit": limits.fsize_mb})
        if "MemoryError" in result.stderr or "Cannot allocate memory" in result.stderr:
            events.append({"event": "memory-limit", "limit_mb": limits.memory_mb})
        if re.search(r"fork: retry|Cannot fork|Resource temporarily unavailable", result.stderr):
            events.append({"event": "process-limit", "limit": limits.nproc})
        return events

