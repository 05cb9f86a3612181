"""Cleanup runs once: on close(), or at exit — including SIGTERM — when the process ends without closing.

Signal tests run in a child interpreter that says when it is ready on stdout, so the parent signals it at a known
point (no sleeps).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsgym.cluster.cleanup import on_exit
from opsgym.cluster.real import RealCluster

CHILD = """
import signal, sys
from pathlib import Path
{before}
from opsgym.cluster.cleanup import on_exit
on_exit(lambda: Path({marker!r}).write_text("cleaned"))
print("ready", flush=True)
sys.stdin.read()
"""


def _child(marker: Path, before: str = "") -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(marker=str(marker), before=before)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    return child


def test_a_cleanup_runs_once_and_a_cancelled_one_never() -> None:
    calls: list[str] = []
    handle = on_exit(lambda: calls.append("ran"))
    handle.run()
    handle.run()
    cancelled = on_exit(lambda: calls.append("cancelled one ran"))
    cancelled.cancel()
    cancelled.run()
    assert calls == ["ran"] and not handle.pending


def test_sigterm_runs_the_cleanup_before_the_process_dies(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = _child(marker)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 128 + signal.SIGTERM
    assert marker.read_text() == "cleaned"


def test_a_normal_exit_runs_the_cleanup(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = _child(marker)
    child.communicate("", timeout=60)
    assert child.returncode == 0 and marker.read_text() == "cleaned"


def test_a_handler_installed_by_someone_else_is_left_in_charge(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    child = _child(marker, before="signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 7
    assert marker.read_text() == "cleaned", "their handler exits normally, so atexit still cleans up"


class _Clock:
    """time.monotonic and time.sleep as a test double: sleeping moves the clock, nothing else does."""

    def __init__(self) -> None:
        self.now, self.slept = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_advance_waits_only_for_the_part_the_agent_did_not_already_spend(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    backend = RealCluster()
    backend.advance(5.0)      # right after the episode started: wait the full 5 s
    clock.now += 2.0          # the agent thought for 2 s
    backend.advance(5.0)      # so only 3 s more
    clock.now += 30.0         # a slow LLM turn
    backend.advance(5.0)      # nothing to wait for
    assert clock.slept == [5.0, 3.0]
    assert backend.virtual_time is False
