"""Cgroups per sandbox, so a command's processes are capped *together*: memory, CPU time per second, process count.

Per-process limits leave holes: four children of 150 MiB each pass a 200 MiB RLIMIT_AS, and a fork bomb held to 256
processes by RLIMIT_NPROC still pins every core until the wall-clock timeout. A cgroup caps what all the processes in
it use together: ``memory`` (the sum of their memory), ``cpu`` (a CFS quota: at most ``cpus`` cores' worth of time per
period), ``pids`` (a kernel count that holds for every uid) and ``cpuacct`` (the CPU time they used, which the
sandbox reports per command).

Each controller is used where this process may make a child of its own cgroup: in the cgroup v2 hierarchy (where the
controller is delegated to it) or in the controller's v1 hierarchy, which usually takes root. A controller that
cannot be used is left out, and :class:`opsgym.swe.sandbox.Sandbox` says which scope each limit then has
(``memory_scope``, ``cpu_scope``): per process (RLIMIT_AS, RLIMIT_CPU) rather than per command.

Commands of one sandbox run one after another, so one set of cgroups per sandbox, joined by each command's first
process before it execs, caps each command; its processes are all gone before the next starts.
"""

from __future__ import annotations

import os
import subprocess
import weakref
from pathlib import Path

from opsgym.swe.workspace import process_start_time

__all__ = ["CONTROLLERS", "SandboxCgroups"]

CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
_PREFIX = "opsgym-"
_PERIOD_US = 100_000
_V2_NAME = {"cpuacct": "cpu"}  # v2 has no cpuacct: cpu.stat holds the usage


def _mountinfo() -> list[tuple[str, str, str, set[str]]]:
    """``(kind, mount root, mount point, v1 controllers)`` of every cgroup mount."""
    found: list[tuple[str, str, str, set[str]]] = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return found
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, fs = fields.split(), tail.split()
        if len(parts) >= 5 and len(fs) >= 3 and fs[0] in ("cgroup", "cgroup2"):
            found.append(("v2" if fs[0] == "cgroup2" else "v1", parts[3], parts[4], set(fs[2].split(","))))
    return found


def _parents(controller: str) -> list[tuple[str, Path]]:
    """This process's own cgroup folders that could parent a cgroup with ``controller``, v2 first."""
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            own = [line.split(":", 2) for line in fh.read().splitlines()]
    except OSError:
        return []
    found = []
    for kind, root, point, options in _mountinfo():
        for _, controllers, path in own:
            if kind == "v2" and controllers == "":
                folder = Path(point) / os.path.relpath(path, root)
                try:
                    enabled = (folder / "cgroup.controllers").read_text(encoding="ascii").split()
                except OSError:
                    continue
                if _V2_NAME.get(controller, controller) in enabled:
                    found.append(("v2", folder))
            elif kind == "v1" and controller in options and controller in controllers.split(","):
                found.append(("v1", Path(point) / os.path.relpath(path, root)))
    return sorted({f for f in found if f[1].is_dir()}, key=lambda f: f[0] != "v2")


def _remove_stale(parent: Path) -> None:
    """Remove cgroups left by a process that has since gone (named ``opsgym-<pid>-<start time>-<n>``)."""
    for entry in parent.glob(f"{_PREFIX}*"):
        pid, started = [*entry.name[len(_PREFIX):].split("-"), "", ""][:2]
        if pid.isdigit() and process_start_time(int(pid)) != started:
            try:
                entry.rmdir()
            except OSError:
                continue


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        path.write_text(value, encoding="ascii")
    except OSError:
        if not optional:
            raise


class SandboxCgroups:
    """One cgroup per usable controller, which each command's first process joins (see the module docstring)."""

    def __init__(self, dirs: dict[str, tuple[str, Path]]) -> None:
        self.dirs = dirs
        folders = sorted({path for _, path in dirs.values()})
        self._fds = [os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for path in folders]
        self._finalizer = weakref.finalize(self, SandboxCgroups._remove, list(self._fds), folders)
        self._set: dict[str, object] = {}

    @classmethod
    def create(cls, tag: str) -> SandboxCgroups | None:
        """Fresh cgroups named after this process and ``tag``, or None where no controller can be used."""
        name = f"{_PREFIX}{os.getpid()}-{process_start_time(os.getpid())}-{tag}"
        dirs: dict[str, tuple[str, Path]] = {}
        for controller in CONTROLLERS:
            for kind, parent in _parents(controller):
                folder = parent / name
                try:
                    _remove_stale(parent)
                    folder.mkdir(exist_ok=True)
                except OSError:
                    continue
                dirs[controller] = (kind, folder)
                break
        if not dirs:
            return None
        group = cls(dirs)
        try:
            subprocess.run(["/bin/true"], preexec_fn=group.join, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            group.close()
            return None
        return group

    def has(self, controller: str) -> bool:
        return controller in self.dirs

    def _file(self, controller: str, v1: str, v2: str) -> Path:
        kind, folder = self.dirs[controller]
        return folder / (v2 if kind == "v2" else v1)

    def set_memory(self, memory_mb: int) -> None:
        """Cap the memory of the processes together (``memory_mb`` <= 0: no cap)."""
        if not self.has("memory") or self._set.get("memory") == memory_mb:
            return
        v2 = self.dirs["memory"][0] == "v2"
        value = str(memory_mb << 20) if memory_mb > 0 else ("max" if v2 else "-1")
        swap = self._file("memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
        swap_value = "0" if v2 and memory_mb > 0 else value
        # Swap must not stretch the cap. v1 wants memory+swap >= memory at every moment, so its swap line is
        # written before (raising) and after (lowering) the memory line; either may fail without swap accounting.
        _write(swap, swap_value, optional=True)
        _write(self._file("memory", "memory.limit_in_bytes", "memory.max"), value)
        _write(swap, swap_value, optional=True)
        self._set["memory"] = memory_mb

    def set_cpus(self, cpus: float) -> None:
        """Allow at most ``cpus`` cores' worth of CPU time per period to the processes together (<= 0: no cap)."""
        if not self.has("cpu") or self._set.get("cpu") == cpus:
            return
        quota = int(cpus * _PERIOD_US) if cpus > 0 else -1
        if self.dirs["cpu"][0] == "v2":
            _write(self._file("cpu", "", "cpu.max"), f"{quota if quota > 0 else 'max'} {_PERIOD_US}")
        else:
            _write(self._file("cpu", "cpu.cfs_period_us", ""), str(_PERIOD_US))
            _write(self._file("cpu", "cpu.cfs_quota_us", ""), str(quota))
        self._set["cpu"] = cpus

    def set_pids(self, count: int) -> None:
        """At most ``count`` processes and threads together, whatever their uid (<= 0: no cap)."""
        if self.has("pids") and self._set.get("pids") != count:
            _write(self._file("pids", "pids.max", "pids.max"), str(count) if count > 0 else "max")
            self._set["pids"] = count

    def join(self) -> None:
        """Move the calling process into the cgroups (a ``preexec_fn``: runs in the child before it execs)."""
        for fd in self._fds:
            os.write(fd, b"0")

    def oom_kills(self) -> int:
        """How many processes the kernel has killed so far for going over the memory cap."""
        if not self.has("memory"):
            return 0
        try:
            text = self._file("memory", "memory.oom_control", "memory.events").read_text(encoding="ascii")
        except OSError:
            return 0
        counts = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
        return int(counts.get("oom_kill", "0"))

    def cpu_seconds(self) -> float | None:
        """CPU time used so far by every process that was in the cgroup (None: not accounted here)."""
        if not self.has("cpuacct"):
            return None
        try:
            if self.dirs["cpuacct"][0] == "v1":
                return int(self._file("cpuacct", "cpuacct.usage", "").read_text(encoding="ascii")) / 1e9
            stat = self._file("cpuacct", "", "cpu.stat").read_text(encoding="ascii").split()
            return int(stat[stat.index("usage_usec") + 1]) / 1e6
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Remove the cgroups (idempotent; they are empty between commands)."""
        self._finalizer()

    @staticmethod
    def _remove(fds: list[int], folders: list[Path]) -> None:
        for fd in fds:
            os.close(fd)
        for folder in folders:
            try:
                folder.rmdir()
            except OSError:
                pass
