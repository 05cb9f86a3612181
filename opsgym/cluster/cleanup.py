"""Running a real backend's cleanup when the process ends badly, not only when ``close()`` is called.

A kind cluster or a task namespace outlives the Python process that made it, so a crash would leak it. ``atexit``
covers a normal exit, an unhandled exception and Ctrl-C (KeyboardInterrupt unwinds to the interpreter's exit). A
``SIGTERM`` or ``SIGHUP`` with the default handler would kill the process without ``atexit``; where nobody else
handles them, they are turned into ``SystemExit`` so the same path runs. Only ``SIGKILL`` (and a machine crash)
cannot be caught: :func:`opsgym.cluster.kind.list_leaked_clusters` finds what those leave behind, and
:func:`reclaim_private_dirs` removes the private temporary folders (kubeconfig, kubectl cache) of dead processes.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from opsgym.swe.workspace import process_start_time

__all__ = ["ExitCleanup", "on_exit", "private_dir", "reclaim_private_dirs"]

_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)
_lock = threading.Lock()
_installed: set[int] = set()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """Unwind like an exception, so ``finally`` blocks and ``atexit`` callbacks (the cleanups) run."""
    raise SystemExit(128 + signum)


def _install_signal_handlers() -> None:
    """Turn default-action SIGTERM/SIGHUP into SystemExit (main thread only; someone else's handler is kept)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _SIGNALS:
        if signum in _installed:
            continue
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _exit_on_signal)
        _installed.add(signum)


class ExitCleanup:
    """A cleanup callback registered to run at process exit; :meth:`cancel` once it has run by other means."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._done = False
        atexit.register(self.run)

    def run(self) -> None:
        """Run the callback once; later calls (close() then atexit) do nothing."""
        with _lock:
            if self._done:
                return
            self._done = True
        atexit.unregister(self.run)
        self._callback()

    def cancel(self) -> None:
        """Forget the callback without running it."""
        with _lock:
            self._done = True
        atexit.unregister(self.run)

    @property
    def pending(self) -> bool:
        return not self._done


def on_exit(callback: Callable[[], None]) -> ExitCleanup:
    """Register ``callback`` to run at exit, including on SIGTERM/SIGHUP; returns a handle to run or cancel it."""
    _install_signal_handlers()
    return ExitCleanup(callback)


def private_dir(prefix: str) -> Path:
    """A fresh private folder ``<tmp>/<prefix><pid>-<start time>-<random>`` that names the process owning it.

    The pid with the process's start time is a name no later process can reuse, so :func:`reclaim_private_dirs` can
    tell a folder whose owner was SIGKILLed from one a live process still uses.
    """
    pid = os.getpid()
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{pid}-{process_start_time(pid)}-"))


def reclaim_private_dirs(prefix: str, root: Path | None = None) -> list[Path]:
    """Remove the :func:`private_dir` folders under ``root`` (default: the temp folder) whose owner has died.

    A folder is removed only when its name says who made it and that process is gone (no process with that pid,
    or one started at another time); a folder whose owner lives, or whose name is not of that form, is left alone.
    Returns the folders removed.
    """
    removed: list[Path] = []
    base = root or Path(tempfile.gettempdir())
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        pid, _, rest = entry.name[len(prefix):].partition("-")
        started = rest.partition("-")[0]
        if not pid.isdigit() or not started or process_start_time(int(pid)) == started:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed
