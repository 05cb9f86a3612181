"""A fresh working tree per episode, removed on close, at interpreter exit, and by a sweep after a crash.

Measured on the 2-core VM (``benchmarks/bench_swe.py`` prints the numbers for the catalog's trees): a plain copy is
the fastest way to a private tree for trees of this size; ``git worktree`` pays for git's bookkeeping, and overlayfs,
though cheapest to create, exists only inside the mount namespace that mounted it, so the host-side tools (``open``,
``edit``, ``diff``, grading) could not read it. Hard links were ruled out: an in-place write through a hard link
would change the catalog. So: ``shutil.copytree`` (symlinks kept as links), then ``chown`` to the sandbox's user.

Every workspace lives under :func:`workspace_root` in a folder named ``<pid>-<process start time>-<random>``; a new
workspace first removes folders whose process is gone, so a crashed run (SIGKILL, OOM) leaves nothing behind for long.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import stat
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "IGNORED_DIRS",
    "Workspace",
    "iter_files",
    "process_start_time",
    "remove_tree",
    "sweep_stale",
    "workspace_root",
]

IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".git", ".mypy_cache", ".ruff_cache"})
"""Directories that are build or tool residue, never part of a change."""

_LIVE: weakref.WeakSet[Workspace] = weakref.WeakSet()
_LOCK = threading.Lock()


def workspace_root() -> Path:
    """Where workspaces live: ``$OPSGYM_SWE_WORKDIR`` or ``<tmp>/opsgym-swe``."""
    root = Path(os.environ.get("OPSGYM_SWE_WORKDIR") or Path(tempfile.gettempdir()) / "opsgym-swe")
    root.mkdir(parents=True, exist_ok=True)
    return root


def process_start_time(pid: int) -> str | None:
    """A process's start time in clock ticks (with its pid, a name no later process can reuse)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _owner_alive(name: str) -> bool:
    pid, _, rest = name.partition("-")
    started = rest.partition("-")[0]
    return pid.isdigit() and process_start_time(int(pid)) == started


def remove_tree(path: Path) -> None:
    """Remove a tree the sandbox may have made unreadable (``chmod 000``) without following its symlinks."""
    def fix(func, p, _exc):
        try:
            parent = os.path.dirname(p)
            os.chmod(parent, stat.S_IRWXU)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
            func(p)
        except FileNotFoundError:
            pass
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        shutil.rmtree(path, onerror=fix)


def sweep_stale(root: Path | None = None) -> list[Path]:
    """Remove workspaces whose owning process no longer exists; return what was removed."""
    root = root or workspace_root()
    removed = []
    for entry in root.iterdir():
        if entry.is_dir() and entry.name[:1].isdigit() and not _owner_alive(entry.name):
            remove_tree(entry)
            removed.append(entry)
    return removed


def iter_files(root: Path) -> Iterator[str]:
    """Relative paths of the files and symlinks under ``root`` (skipping :data:`IGNORED_DIRS`; links not followed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS and d not in links)
        rel = os.path.relpath(dirpath, root)
        for name in sorted(filenames + links):
            if not name.endswith((".pyc", ".pyo")):
                yield name if rel == "." else f"{rel}/{name}"


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


class Workspace:
    """One episode's private copy of a base tree.

    Args:
        base: the pristine tree (a task's ``repo/`` folder or a checked-out commit); never written to.
        owner: ``(uid, gid)`` the tree is handed to so the sandbox's unprivileged user can write it (root only).
    """

    def __init__(self, base: str | Path, *, owner: tuple[int, int] | None = None) -> None:
        root = workspace_root()
        with _LOCK:
            sweep_stale(root)
        self.base = Path(base).resolve()
        self.owner = owner
        self.dir = root / f"{os.getpid()}-{process_start_time(os.getpid())}-{secrets.token_hex(4)}"
        self.dir.mkdir(mode=0o755)
        self.path = self.dir / "repo"
        self._finalizer = weakref.finalize(self, remove_tree, self.dir)
        _LIVE.add(self)
        self.copy_from(self.base, self.path)

    def copy_from(self, source: Path, dest: Path) -> Path:
        """Copy ``source`` to ``dest`` (inside this workspace's folder) and hand it to the sandbox's user."""
        shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED_DIRS, "*.pyc"))
        if self.owner is not None:
            _chown_tree(dest, *self.owner)
        return dest

    def scratch(self, name: str) -> Path:
        """A fresh sibling folder of the tree (e.g. the grading copy), removed with the workspace."""
        path = self.dir / name
        remove_tree(path)
        return path

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def close(self) -> None:
        """Remove the workspace (idempotent)."""
        self._finalizer()


@atexit.register
def _close_all() -> None:
    for ws in list(_LIVE):
        ws.close()
