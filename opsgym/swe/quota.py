"""A size and inode quota for a workspace tree: a tmpfs of its own, where this process may mount one.

A command can fill the host's disk fast (458 MB in 1.1 s), and RLIMIT_FSIZE caps one file, not how many. A tmpfs
mounted with ``size=`` and ``nr_inodes=`` makes the kernel refuse the write that goes over (``ENOSPC``), for every
process, at once; its pages are memory, charged to the memory cgroup of the process that wrote them (so the
sandbox's memory cap bounds them too). Mounting takes CAP_SYS_ADMIN (opsgym run as root); where it is refused
the tree stays on the ordinary filesystem and :func:`usage` lets the caller account for it after each command
instead (:attr:`opsgym.swe.workspace.Workspace.quota_enforced` says which).
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

__all__ = ["mount_quota", "mounts_under", "unmount", "usage"]

_MS_NOSUID, _MS_NODEV, _MNT_DETACH = 2, 4, 2


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount_quota(path: Path, size_mb: int, inodes: int) -> bool:
    """Mount an empty tmpfs of ``size_mb`` MiB and ``inodes`` inodes at ``path``; False where that is not allowed."""
    if size_mb <= 0 or inodes <= 0:
        return False
    options = f"size={size_mb}m,nr_inodes={inodes},mode=0755".encode()
    try:
        return _libc().mount(b"opsgym-workspace", os.fsencode(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) == 0
    except (OSError, AttributeError):
        return False


def unmount(path: Path | str) -> None:
    """Detach the mount at ``path`` (its files go with it); nothing if there is none."""
    try:
        _libc().umount2(os.fsencode(path), _MNT_DETACH)
    except (OSError, AttributeError):
        pass


def mounts_under(path: Path | str) -> list[str]:
    """Mount points at or below ``path``, deepest first (to unmount a stale workspace before removing it)."""
    prefix = os.path.realpath(path)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            for line in fh:
                point = line.split()[4].replace("\\040", " ")
                if point == prefix or point.startswith(prefix + os.sep):
                    found.append(point)
    except (OSError, IndexError):
        return []
    return sorted(found, key=len, reverse=True)


def usage(root: Path, stop_bytes: int, stop_inodes: int) -> tuple[int, int]:
    """Bytes really held (blocks: a sparse file counts what it holds) and entries under ``root``, counted until
    either passes its ``stop_`` value (so counting a huge tree costs no more than counting the quota)."""
    used = count = 0
    stack = [str(root)]
    while stack and used <= stop_bytes and count <= stop_inodes:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    st = entry.stat(follow_symlinks=False)
                    used, count = used + st.st_blocks * 512, count + 1
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return used, count
