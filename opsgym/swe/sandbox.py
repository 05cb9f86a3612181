"""Run untrusted commands under bubblewrap: no network, its own user, no capabilities, only the workspace writable.

The sandbox's root is a fresh tmpfs holding read-only binds of ``/usr`` (and the ``/bin``, ``/lib*`` links), ``/etc``,
the Python installation and its virtual environment — nothing else of the host: not ``/root``, not ``/home``, not the
task catalog (so an agent cannot read the gold patch). The workspace is bound read-write at ``/workspace``; ``/tmp``
is a size-limited tmpfs. Namespaces: PID, network (only ``lo``), IPC, UTS, cgroup.

Its own user, and why root is handled differently: RLIMIT_NPROC (the fork-bomb guard) does not apply to processes
whose real uid is host root — and inside an unprivileged user namespace made by root, uid 1000 *is* host root. So
when opsgym runs as root, bubblewrap runs without a user namespace and a tiny launcher inside keeps only
CAP_SETUID/CAP_SETGID long enough to switch to a dedicated uid (one per sandbox, ``10_000_000 + pid*64 + n``) before
anything untrusted runs. Run as an ordinary user, bubblewrap makes a user namespace (uid 1000 inside) and NPROC is
set above the user's current process count. The launcher also sets the CPU, address-space and file-size limits, runs
the command, and records processes left behind; when it exits the PID namespace ends and the kernel kills them. On
timeout the host kills bwrap's process group; ``--die-with-parent`` then takes the namespace down.

Memory: each process is capped by RLIMIT_AS; where a memory cgroup can be made (:mod:`opsgym.swe.cgroup`) a
command's processes are also capped together (:attr:`Sandbox.memory_scope`). Before each command the host gives the
workspace root back the mode bubblewrap needs to enter it and makes a fresh events folder, so nothing a previous
command did to either (``chmod 000 /workspace``, a symlink or FIFO as the events file) can fail the next one.

``unsafe-local`` runs commands directly (limits and timeout only, no isolation) for machines without bubblewrap,
and only when asked for by name.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import selectors
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

from opsgym.errors import SandboxUnavailableError
from opsgym.swe.cgroup import MemoryCgroup
from opsgym.swe.workspace import process_start_time, remove_tree, workspace_root

__all__ = ["BACKENDS", "Limits", "Sandbox", "SandboxResult", "network_events"]

BACKENDS = ("bwrap", "unsafe-local")
INSTALL_HINT = ("install bubblewrap (`apt-get install bubblewrap`), or opt out of isolation explicitly with "
                "backend='unsafe-local' (runs the agent's commands directly on this machine)")
_INSIDE = Path(__file__).resolve().parent / "inside"
_EVENTS = "/run/opsgym/events.jsonl"
_SITE = "/run/opsgym-site"
_OUTPUT_LIMIT = 1 << 20
_NET_ERRORS = re.compile(r"Network is unreachable|Temporary failure in name resolution|Could not resolve host|"
                         r"Name or service not known|nodename nor servname|getaddrinfo failed")
_uids = itertools.count()


@dataclass(frozen=True)
class Limits:
    """Per-command limits (``backend_options`` keys of the same names override them).

    ``memory_mb`` caps each process's address space (RLIMIT_AS), so a command of ``nproc`` processes could hold up to
    ``nproc × memory_mb``; where a memory cgroup can be made it also caps all of a command's processes together
    (``Sandbox.memory_scope == "command"``).
    """

    timeout_s: float = 60.0
    cpu_s: int = 120
    memory_mb: int = 2048
    fsize_mb: int = 64
    nproc: int = 256
    tmp_mb: int = 256


@dataclass
class SandboxResult:
    """What one command did. ``events`` holds what the sandbox noticed: timeouts, limits, leftovers, sockets."""

    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    started: bool = True

    @property
    def output(self) -> str:
        return self.stdout + (("\n" if self.stdout and not self.stdout.endswith("\n") else "") + self.stderr
                              if self.stderr else "")


def network_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events that are attempts to reach a network (a connect to the sandbox's own ``lo`` is not one)."""
    local = ("", "localhost", "::1", "0.0.0.0", "None")
    return [e for e in events if e.get("event") == "network"
            or (e.get("event") == "socket" and not (e.get("host") in local or str(e.get("host")).startswith("127.")))]


def _read_limited(proc: subprocess.Popen[bytes], deadline: float) -> tuple[bytes, bytes, bool]:
    """Drain stdout/stderr until EOF or the deadline, keeping at most 1 MiB of each."""
    chunks: dict[int, bytearray] = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        sel.register(stream, selectors.EVENT_READ)
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bytes(chunks[proc.stdout.fileno()]), bytes(chunks[proc.stderr.fileno()]), True
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            data = os.read(key.fd, 65536)
            if not data:
                sel.unregister(key.fileobj)
            elif len(chunks[key.fd]) < _OUTPUT_LIMIT:
                chunks[key.fd] += data[: _OUTPUT_LIMIT - len(chunks[key.fd])]
    return bytes(chunks[proc.stdout.fileno()]), bytes(chunks[proc.stderr.fileno()]), False


@functools.cache
def _python_dirs(python: str) -> tuple[str, ...]:
    """The folders an interpreter needs at run time (its venv, its installation), found by asking it."""
    out = subprocess.run([python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                         capture_output=True, text=True, timeout=30, check=True).stdout.split("\n")
    dirs = {p for p in out if p} | {os.path.realpath(p) for p in out if p}
    dirs |= {os.path.dirname(os.path.dirname(p)) for p in (os.path.abspath(python), os.path.realpath(python))}
    return tuple(sorted(d for d in dirs if not d.startswith(("/usr/", "/etc/")) and d != "/usr"))


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


def _user_process_count(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        try:
            count += name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid
        except OSError:
            continue
    return count


class Sandbox:
    """Runs commands for one episode's workspace(s).

    Args:
        backend: ``"bwrap"`` (default) or ``"unsafe-local"``.
        python: the interpreter (with pytest) the workspace's code runs on; default: the one running opsgym.
        limits: per-command limits.

    Raises:
        SandboxUnavailableError: bubblewrap is missing or cannot start here (the message says how to fix it).
    """

    def __init__(self, backend: str = "bwrap", *, python: str | None = None, limits: Limits | None = None) -> None:
        if backend not in BACKENDS:
            raise SandboxUnavailableError(f"unknown SWE sandbox backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.backend = backend
        self.python = python or sys.executable
        self.limits = limits or Limits()
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
        self._memory = MemoryCgroup.create(f"sbx{uid}")
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
        return "command" if self._memory is not None else "process"

    def run(self, argv: list[str], *, workdir: Path, timeout_s: float | None = None, stdin: str | None = None,
            limits: Limits | None = None) -> SandboxResult:
        """Run ``argv`` with ``workdir`` as the writable current directory; never raises for what the command does.

        ``started`` in the result is False when the sandbox itself failed (the launcher never signalled on its
        private pipe), which callers report as an infrastructure failure rather than the agent's.
        """
        limits = limits or self.limits
        timeout = timeout_s or limits.timeout_s
        events_file = self._fresh_events() / "events.jsonl"
        _make_enterable(workdir)
        oom_before = 0
        if self._memory is not None:
            self._memory.set_limit(limits.memory_mb)
            oom_before = self._memory.oom_kills()
        ready_r, ready_w = os.pipe()
        full = self._command(argv, workdir, limits, ready_w)
        env = self._env(workdir)
        started = time.monotonic()
        try:
            proc = subprocess.Popen(full, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
                                    cwd=workdir if self.backend == "unsafe-local" else None, pass_fds=(ready_w,),
                                    preexec_fn=self._memory.join if self._memory is not None else None)
        finally:
            os.close(ready_w)
        if stdin is not None:
            try:
                proc.stdin.write(stdin.encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
        out, err, timed_out = _read_limited(proc, started + timeout)
        if timed_out:
            self._kill(proc)
        rc = self._wait(proc)
        if self.owner:
            self._await_teardown(self.owner[0])
        if self.backend == "unsafe-local":
            self._kill(proc)  # background processes die with the command's process group
        with os.fdopen(ready_r, "rb") as ready:
            launched = ready.read(1) == b"1"
        result = SandboxResult(rc, out.decode(errors="replace"), err.decode(errors="replace"),
                               time.monotonic() - started, timed_out, started=launched)
        result.events = self._events(events_file, result, limits, timeout)
        if self._memory is not None and self._memory.oom_kills() > oom_before \
                and not any(e.get("event") == "memory-limit" for e in result.events):
            result.events.append({"event": "memory-limit", "limit_mb": limits.memory_mb, "scope": "command"})
        return result

    def close(self) -> None:
        """Remove the sandbox's scratch folder and memory cgroup (idempotent)."""
        self._finalizer()
        if self._memory is not None:
            self._memory.close()

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

    def _env(self, workdir: Path) -> dict[str, str]:
        inside = self.backend == "bwrap"
        venv_bin = os.path.dirname(os.path.abspath(self.python))
        return {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp" if inside else str(workdir),
            "LANG": "C.UTF-8", "TERM": "dumb", "COLUMNS": "200", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": _SITE if inside else str(self._dir / "site"), "PYTHONHASHSEED": "0", "PIP_NO_INDEX": "1",
            "OPSGYM_SANDBOX_EVENTS": _EVENTS if inside else str(self._dir / "events" / "events.jsonl"),
        }

    def _launcher(self, limits: Limits, argv: list[str], events: str, ready_fd: int) -> list[str]:
        uid, gid = self.owner or (-1, -1)
        nproc = limits.nproc if self.owner else _user_process_count(os.getuid()) + limits.nproc
        scan = "1" if self.backend == "bwrap" else "0"  # only a private PID namespace shows just our processes
        source = (_INSIDE / "launcher.py").read_text(encoding="utf-8")
        return [self.python, "-I", "-S", "-c", source, str(uid), str(gid), str(nproc), str(limits.memory_mb),
                str(limits.cpu_s), str(limits.fsize_mb), events, scan, str(ready_fd), "--", *argv]

    def _command(self, argv: list[str], workdir: Path, limits: Limits, ready_fd: int) -> list[str]:
        if self.backend == "unsafe-local":
            return self._launcher(limits, argv, str(self._dir / "events" / "events.jsonl"), ready_fd)
        cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
               "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--cap-drop", "ALL"]
        if self.as_root:
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            cmd += ["--unshare-user", "--uid", "1000", "--gid", "1000", "--disable-userns"]
        made: set[str] = {"/"}
        for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
            if os.path.islink(top):
                cmd += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                cmd += ["--ro-bind", top, top]
            made.add(top)
        cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--dev", "/dev", "--proc", "/proc",
                "--size", str(limits.tmp_mb << 20), "--perms", "1777", "--tmpfs", "/tmp"]
        made |= {"/usr", "/etc", "/dev", "/proc", "/tmp"}
        binds = [(d, d, "--ro-bind") for d in _python_dirs(self.python)]
        binds += [(str(self._dir / "site"), _SITE, "--ro-bind"), (str(self._dir / "events"), "/run/opsgym", "--bind"),
                  (str(workdir), "/workspace", "--bind")]
        for src, dest, how in sorted(binds, key=lambda b: b[1].count("/")):
            parents = Path(dest).parents
            for parent in sorted((str(p) for p in parents), key=len):
                if parent not in made:
                    cmd += ["--perms", "0755", "--dir", parent]
                    made.add(parent)
            cmd += [how, src, dest]
            made.add(dest)
        cmd += ["--chdir", "/workspace", "--"]
        return cmd + self._launcher(limits, argv, _EVENTS, ready_fd)

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
                stream.close()

    @staticmethod
    def _events(path: Path, result: SandboxResult, limits: Limits, timeout: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for line in _read_regular(path).splitlines()[:200]:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict):
                events.append(item)
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
        if not network_events(events) and _NET_ERRORS.search(result.output):
            events.append({"event": "network", "source": "output", "detail": _NET_ERRORS.search(result.output)[0]})
        return events

