"""Host-side reads and copies of files the agent wrote, bounded in bytes, time and disk.

A workspace can hold files of any apparent size: eight sparse 64 MB files hold no data but read as 512 MB of zeros,
and a naive diff held them in memory several times over while the grading copy wrote them out in full. So:

* a file is read only if it is a regular file (never through a link, never a FIFO or device) of at most ``limit``
  bytes *and* not sparse (it holds as many blocks as its size needs); anything else is reported as not read;
* a copy keeps a sparse file sparse (only its data ranges are copied), so a copy holds what the original holds;
* a :class:`ReadBudget` caps what one pass over a tree (a diff) reads in all, in bytes and seconds; what is left when
  it runs out is reported rather than read;
* a command's output pipes are read up to a limit each and a deadline (:func:`drain`).
"""

from __future__ import annotations

import os
import selectors
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ReadBudget", "copy_file", "drain", "is_sparse", "read_bounded"]

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def is_sparse(st: os.stat_result) -> bool:
    """Whether a file holds fewer blocks than its size needs (filesystems round up, so small files never are)."""
    return st.st_size > 64 << 10 and st.st_blocks * 512 < st.st_size - (64 << 10)


@dataclass
class ReadBudget:
    """What one pass may still read: bytes and a deadline. ``skipped`` lists the files it refused."""

    bytes_left: int = 64 << 20
    deadline: float = field(default_factory=lambda: time.monotonic() + 20.0)
    skipped: list[str] = field(default_factory=list)

    def allows(self, size: int) -> bool:
        return size <= self.bytes_left and time.monotonic() < self.deadline

    def spend(self, size: int) -> None:
        self.bytes_left -= size


def read_bounded(path: Path, limit: int, budget: ReadBudget | None = None) -> bytes | None:
    """The bytes of ``path`` if it is a regular, non-sparse file of at most ``limit`` bytes (and the budget allows);
    None otherwise."""
    try:
        fd = os.open(path, _FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit or is_sparse(st):
            return None
        if budget is not None:
            if not budget.allows(st.st_size):
                return None
            budget.spend(st.st_size)
        chunks, left = [], limit + 1
        while left > 0:
            data = os.read(fd, min(left, 1 << 20))
            if not data:
                break
            chunks.append(data)
            left -= len(data)
        content = b"".join(chunks)
        return content if len(content) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _data_ranges(fd: int, size: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the ranges of a file that hold data (SEEK_DATA/SEEK_HOLE)."""
    ranges, offset = [], 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            break
        end = os.lseek(fd, start, os.SEEK_HOLE)
        ranges.append((start, end))
        offset = end
    return ranges


def copy_file(source: str, dest: str) -> None:
    """Copy a regular file with its mode and times; a sparse one stays sparse.

    Raises:
        OSError: the copy failed (e.g. the destination's quota is full).
    """
    st = os.lstat(source)
    if not is_sparse(st):
        shutil.copy2(source, dest, follow_symlinks=False)
        return
    src = os.open(source, _FLAGS)
    try:
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            for start, end in _data_ranges(src, st.st_size):
                offset = start
                while offset < end:
                    copied = os.copy_file_range(src, out, end - offset, offset, offset)
                    if copied <= 0:
                        break
                    offset += copied
            os.ftruncate(out, st.st_size)
        finally:
            os.close(out)
    finally:
        os.close(src)
    shutil.copystat(source, dest, follow_symlinks=False)


def drain(streams: dict[int, int], deadline: float) -> tuple[dict[int, bytes], bool]:
    """Read the given pipes (``{fd: byte limit}``) until EOF on all or the deadline; True: the deadline hit."""
    chunks = {fd: bytearray() for fd in streams}
    sel = selectors.DefaultSelector()
    for fd in streams:
        sel.register(fd, selectors.EVENT_READ)
    timed_out = False
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in sel.select(timeout=min(remaining, 1.0)):
            data = os.read(key.fd, 65536)
            if not data:
                sel.unregister(key.fd)
            elif len(chunks[key.fd]) < streams[key.fd]:
                chunks[key.fd] += data[: streams[key.fd] - len(chunks[key.fd])]
    sel.close()
    return {fd: bytes(data) for fd, data in chunks.items()}, timed_out
