"""A fresh working tree per episode, removed on close, at interpreter exit, and by a sweep after a crash.

Measured on the 2-core VM (``benchmarks/bench_swe.py`` prints the numbers for the catalog's trees): a plain copy is
the fastest way to a private tree for trees of this size; ``git worktree`` pays for git's bookkeeping, and overlayfs,
though cheapest to create, exists only inside the mount namespace that mounted it, so the host-side tools (``open``,
``edit``, ``diff``, grading) could not read it. Hard links were ruled out: an in-place write through a hard link
would change the catalog. So: a plain copy (:func:`copy_tree`), then ``chown`` to the sandbox's user.

The host reads and copies trees the agent has shaped, so nothing here follows a symlink (a link is listed and copied
as a link), opens a FIFO, socket or device (a reader would block, a copy would fail: they are left out), or recurses
on the tree's depth (an agent can nest folders thousands deep).

Each tree (the agent's, the grading copy) has a size and inode quota (:mod:`opsgym.swe.quota`), and a copy keeps
sparse files sparse (:func:`opsgym.swe.bounded.copy_file`), so copying what the agent made costs what it holds.

Every workspace lives under :func:`workspace_root` in a folder named ``<pid>-<process start time>-<random>``; a new
workspace first removes folders whose process is gone, so a crashed run (SIGKILL, OOM) leaves nothing behind for long.
"""

from __future__ import annotations

import atexit
import os
import secrets
import stat
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

from opsgym.swe.bounded import copy_file
from opsgym.swe.quota import mount_quota, mounts_under, unmount, usage

__all__ = [
    "IGNORED_DIRS",
    "Workspace",
    "copy_tree",
    "iter_files",
    "parents_are_real",
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: Path) -> None:
    """Remove a file or tree without following its symlinks, whatever the sandbox did to it.

    Folder modes (``chmod 000``) are undone on the way down, and the walk holds one folder open at a time, relative to
    its parent, so neither nesting depth nor path length stops it (``shutil.rmtree`` recurses once per level).
    A quota mount at or below ``path`` is detached first.
    """
    for point in mounts_under(path) if os.path.isdir(path) and not os.path.islink(path) else ():
        unmount(point)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(mode):
        path.unlink(missing_ok=True)
        return
    os.chmod(path, stat.S_IRWXU)
    names: list[str] = []
    fd = os.open(path, _DIR_FLAGS)
    try:
        while True:
            child = None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
            if child is not None:
                os.chmod(child, stat.S_IRWXU, dir_fd=fd)
                inner = os.open(child, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = inner
                names.append(child)
            elif names:
                outer = os.open("..", _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = outer
                os.rmdir(names.pop(), dir_fd=fd)
            else:
                break
    finally:
        os.close(fd)
    os.rmdir(path)


def sweep_stale(root: Path | None = None) -> list[Path]:
    """Remove workspaces whose owning process no longer exists; return what was removed."""
    root = root or workspace_root()
    removed = []
    for entry in root.iterdir():
        if entry.is_dir() and entry.name[:1].isdigit() and not _owner_alive(entry.name):
            remove_tree(entry)
            removed.append(entry)
    return removed


def _compiled(name: str) -> bool:
    return name.endswith((".pyc", ".pyo"))


def _walk(root: Path, prune: Callable[[os.DirEntry], bool], unreadable: list[str] | None = None
          ) -> Iterator[tuple[os.DirEntry, str]]:
    """``(entry, relative path)`` under ``root``: a folder's entries in name order, then its subfolders', depth
    first, without recursion (an agent can nest folders thousands deep) and without following links. ``prune``
    drops an entry (and, for a folder, all below it); folders that cannot be read go to ``unreadable``."""
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            if unreadable is not None:
                unreadable.append(prefix or ".")
            continue
        subdirs = []
        for entry in entries:
            if prune(entry):
                continue
            yield entry, prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                subdirs.append((entry.path, f"{prefix}{entry.name}/"))
        stack.extend(reversed(subdirs))


def _residue(entry: os.DirEntry) -> bool:
    """Tool residue a copy leaves out: anything named like :data:`IGNORED_DIRS`, and compiled files."""
    return entry.name in IGNORED_DIRS or _compiled(entry.name)


def _ignored_dir(entry: os.DirEntry) -> bool:
    return entry.is_dir(follow_symlinks=False) and entry.name in IGNORED_DIRS


def iter_files(root: Path) -> Iterator[str]:
    """Relative paths of the regular files and symlinks under ``root``, folder by folder in name order.

    Skips :data:`IGNORED_DIRS`, compiled files and special files (FIFOs, sockets, devices); links are listed, never
    followed; folders that cannot be read are passed over.
    """
    for entry, rel in _walk(root, _ignored_dir):
        if (entry.is_symlink() or entry.is_file(follow_symlinks=False)) and not _compiled(entry.name):
            yield rel


def parents_are_real(root: Path, rel: str) -> bool:
    """Whether every folder on the way from ``root`` to ``rel`` is a real folder (no symlink, nothing missing)."""
    real_root = os.path.realpath(root)
    parent = os.path.normpath(os.path.join(real_root, os.path.dirname(rel)))
    inside = parent == real_root or parent.startswith(real_root + os.sep)
    return inside and os.path.realpath(parent) == parent and os.path.isdir(parent)


def copy_tree(source: Path, dest: Path) -> list[str]:
    """Copy ``source`` to ``dest`` (a new or empty folder): links as links, sparse files sparse, special and
    unreadable entries, and what does not fit the destination's quota, left out (returned).

    Tool residue (:data:`IGNORED_DIRS`, compiled files) is not copied. Folders keep their mode plus ``rwx`` for their
    owner, so whoever owns the copy can always reset files in it.
    """
    left_out: list[str] = []
    if not (os.path.isdir(dest) and not os.path.islink(dest) and not os.listdir(dest)):
        os.mkdir(dest)
    folders = [(str(source), str(dest))]
    failed: set[str] = set()  # folders not created: nothing below them is copied
    for entry, rel in _walk(source, _residue, left_out):
        if rel.rpartition("/")[0] in failed:
            failed.add(rel)
            continue
        target = os.path.join(dest, rel)
        try:
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                os.mkdir(target)
                folders.append((entry.path, target))
            elif entry.is_file(follow_symlinks=False):
                copy_file(entry.path, target)
            else:
                left_out.append(rel)
        except OSError:
            left_out.append(rel)
            failed.add(rel)
    for src, dst in reversed(folders):
        os.chmod(dst, stat.S_IMODE(os.lstat(src).st_mode) | stat.S_IRWXU)
    return left_out


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid, follow_symlinks=False)
    for entry, _ in _walk(path, lambda _entry: False):
        os.chown(entry.path, uid, gid, follow_symlinks=False)


class Workspace:
    """One episode's private copy of a base tree.

    Args:
        base: the pristine tree (a task's ``repo/`` folder or a checked-out commit); never written to.
        owner: ``(uid, gid)`` the tree is handed to so the sandbox's unprivileged user can write it (root only).
        quota: ``(MiB, inodes)`` each tree may hold; None: no quota.
    """

    def __init__(self, base: str | Path, *, owner: tuple[int, int] | None = None,
                 quota: tuple[int, int] | None = None) -> None:
        root = workspace_root()
        with _LOCK:
            sweep_stale(root)
        self.base = Path(base).resolve()
        self.owner = owner
        self.dir = root / f"{os.getpid()}-{process_start_time(os.getpid())}-{secrets.token_hex(4)}"
        self.dir.mkdir(mode=0o755)
        self.path = self.dir / "repo"
        self.quota = quota
        self.quota_enforced = quota is not None
        self._finalizer = weakref.finalize(self, remove_tree, self.dir)
        _LIVE.add(self)
        self.copy_from(self.base, self.path)
        # {path: (inode, ctime)} of the files as copied: a file that still has both was not written since (no
        # command can set a ctime), so a diff need not read it.
        self.pristine: dict[str, tuple[int, int]] = {}
        for entry, rel in _walk(self.path, _ignored_dir):
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                self.pristine[rel] = (st.st_ino, st.st_ctime_ns)

    def copy_from(self, source: Path, dest: Path) -> Path:
        """Copy ``source`` to ``dest`` (inside this workspace's folder, with :func:`copy_tree`, on a quota mount of
        its own where one can be made) and hand it to the sandbox's user."""
        dest.mkdir()
        if self.quota is not None and not mount_quota(dest, *self.quota):
            self.quota_enforced = False
        copy_tree(source, dest)
        if self.owner is not None:
            _chown_tree(dest, *self.owner)
        return dest

    def within_quota(self) -> bool:
        """Whether the agent's tree holds no more than its quota (always, where the kernel enforces it)."""
        if self.quota is None or self.quota_enforced:
            return True
        used, count = usage(self.path, self.quota[0] << 20, self.quota[1])
        return used <= self.quota[0] << 20 and count <= self.quota[1]

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
