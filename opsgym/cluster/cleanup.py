"""Running a real backend's cleanup when the process ends badly, not only when ``close()`` is called.

A kind cluster or a task namespace outlives the Python process that made it, so a crash would leak it. ``atexit``
covers a normal exit, an unhandled exception and Ctrl-C (KeyboardInterrupt unwinds to the interpreter's exit). A
``SIGTERM`` or ``SIGHUP`` with the default handler would kill the process without ``atexit``; where nobody else
handles them, they are turned into ``SystemExit`` so the same path runs. Only ``SIGKILL`` (and a machine crash)
cannot be caught: :func:`opsgym.cluster.kind.list_leaked_clusters` finds what those leave behind.
"""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["ExitCleanup", "on_exit"]

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
