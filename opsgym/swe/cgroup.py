"""A memory cgroup per sandbox, so ``memory_mb`` caps a command's processes together rather than each one alone.

The launcher's RLIMIT_AS caps one process's address space: four children of 150 MiB each pass a 200 MiB limit. A
memory cgroup caps what all the processes in it hold together. One is used when this process may make one: a child
of its own cgroup in the cgroup v2 hierarchy (``memory.max``, where the memory controller is delegated to it) or in
the v1 ``memory`` hierarchy (``memory.limit_in_bytes``), which usually takes root. Where neither works the limit
stays per process (at most ``nproc`` of them) and :attr:`opsgym.swe.sandbox.Sandbox.memory_scope` says so.

Commands of one sandbox run one after another, so one cgroup per sandbox, joined by each command's first process
before it execs, caps each command; its processes are all gone before the next starts.
"""

from __future__ import annotations

import os
import subprocess
import weakref
from pathlib import Path

from opsgym.swe.workspace import process_start_time

__all__ = ["MemoryCgroup"]

_PREFIX = "opsgym-"


def _mounts() -> dict[str, tuple[str, str]]:
    """``{"v2" | "v1": (mount root, mount point)}`` of the cgroup hierarchies that can hold a memory limit."""
    found: dict[str, tuple[str, str]] = {}
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return found
    for line in lines:
        fields, _, tail = line.partition(" - ")
        parts, fs = fields.split(), tail.split()
        if len(parts) < 5 or len(fs) < 3:
            continue
        if fs[0] == "cgroup2":
            found.setdefault("v2", (parts[3], parts[4]))
        elif fs[0] == "cgroup" and "memory" in fs[2].split(","):
            found.setdefault("v1", (parts[3], parts[4]))
    return found


def _own_dirs() -> list[tuple[str, Path]]:
    """This process's own cgroup folders that could parent a memory cgroup, v2 first."""
    mounts, dirs = _mounts(), []
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        kind = "v2" if controllers == "" else "v1" if "memory" in controllers.split(",") else None
        if kind in mounts:
            root, point = mounts[kind]
            if path == root or path.startswith(root.rstrip("/") + "/"):
                dirs.append((kind, Path(point) / os.path.relpath(path, root)))
    return sorted(dirs, key=lambda d: d[0] != "v2")


def _remove_stale(parent: Path) -> None:
    """Remove cgroups left by a process that has since gone (named ``opsgym-<pid>-<start time>-<n>``)."""
    for entry in parent.glob(f"{_PREFIX}*"):
        pid, started = [*entry.name[len(_PREFIX):].split("-"), "", ""][:2]
        if pid.isdigit() and process_start_time(int(pid)) != started:
            try:
                entry.rmdir()
            except OSError:
                continue


class MemoryCgroup:
    """A memory cgroup that each command's first process joins (see the module docstring)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self._limit_file = path / ("memory.max" if kind == "v2" else "memory.limit_in_bytes")
        self._fd = os.open(path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        self._finalizer = weakref.finalize(self, MemoryCgroup._remove, self._fd, path)
        self._limit: int | None = None

    @classmethod
    def create(cls, tag: str) -> MemoryCgroup | None:
        """A fresh cgroup named after this process and ``tag``, or None where none can be made and joined."""
        name = f"{_PREFIX}{os.getpid()}-{process_start_time(os.getpid())}-{tag}"
        for kind, parent in _own_dirs():
            try:
                _remove_stale(parent)
                (parent / name).mkdir()
            except OSError:
                continue
            group = None
            try:
                group = cls(parent / name, kind)
                group.set_limit(64)
                subprocess.run(["/bin/true"], preexec_fn=group.join, check=True, timeout=30)
                return group
            except (OSError, subprocess.SubprocessError):
                if group is not None:
                    group.close()
                else:
                    cls._remove(-1, parent / name)
        return None

    def set_limit(self, memory_mb: int) -> None:
        """Cap the memory of the cgroup's processes together (``memory_mb`` <= 0: no cap)."""
        if memory_mb == self._limit:
            return
        value = str(memory_mb << 20) if memory_mb > 0 else ("max" if self.kind == "v2" else "-1")
        swap = self.path / ("memory.swap.max" if self.kind == "v2" else "memory.memsw.limit_in_bytes")
        swap_value = "0" if self.kind == "v2" and memory_mb > 0 else value
        # Swap must not stretch the cap. v1 wants memory+swap >= memory at every moment, so its swap line is
        # written before (raising) and after (lowering) the memory line; either may fail without swap accounting.
        self._write_optional(swap, swap_value)
        self._limit_file.write_text(value, encoding="ascii")
        self._write_optional(swap, swap_value)
        self._limit = memory_mb

    @staticmethod
    def _write_optional(path: Path, value: str) -> None:
        try:
            path.write_text(value, encoding="ascii")
        except OSError:
            pass

    def join(self) -> None:
        """Move the calling process into the cgroup (a ``preexec_fn``: runs in the child before it execs)."""
        os.write(self._fd, b"0")

    def oom_kills(self) -> int:
        """How many processes the kernel has killed so far for going over the cap."""
        name = "memory.events" if self.kind == "v2" else "memory.oom_control"
        try:
            text = (self.path / name).read_text(encoding="ascii")
        except OSError:
            return 0
        counts = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
        return int(counts.get("oom_kill", "0"))

    def close(self) -> None:
        """Remove the cgroup (idempotent; it is empty between commands)."""
        self._finalizer()

    @staticmethod
    def _remove(fd: int, path: Path) -> None:
        if fd >= 0:
            os.close(fd)
        try:
            path.rmdir()
        except OSError:
            pass
