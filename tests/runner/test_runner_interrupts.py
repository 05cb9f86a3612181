"""`opsgym run` as a user runs it, killed and interrupted for real (a subprocess, SIGKILL and SIGINT).

Synchronisation is on what the run writes — lines of records.jsonl and its Ctrl-C notice — never on sleeps. Episodes
with seed ≥ 3 wait at a gate file inside the test-double env, so the moment of the signal is known exactly: seeds
0-2 are recorded and two episodes are running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import opsgym_doubles
import pytest

from opsgym.record import read_records

HERE = Path(__file__).resolve().parent
SEEDS = list(range(8))
pytestmark = pytest.mark.timeout(180)


def start_run(out: Path, gate: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
           "COLUMNS": "200"}
    command = [str(Path(sys.executable).parent / "opsgym"), "run", "--env", opsgym_doubles.ENV_ID, "--seeds", "0-7",
               "--parallel", "2", "--out", str(out), "--no-report", "--env-option", f"gate={gate}",
               "--env-option", "gate_from_seed=3", *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def recorded(out: Path) -> list[int]:
    return [r.spec.seed for r in read_records(out / "records.jsonl").records]


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_after_kill_9_mid_run_a_resume_yields_every_planned_episode_exactly_once(tmp_path: Path):
    out, gate = tmp_path / "run", tmp_path / "gate"
    run = start_run(out, gate)
    wait_for(lambda: len(recorded(out)) >= 3, "seeds 0-2 to be recorded")
    wait_for(lambda: len(children_of(run.pid)) >= 2, "the worker processes")
    workers = children_of(run.pid)
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert sorted(recorded(out)) == [0, 1, 2]  # the two running episodes were lost with the process
    wait_for(lambda: not any(alive(w) for w in workers), "orphaned workers to exit after their parent died")

    gate.touch()
    resumed = start_run(out, gate, "--resume")
    stdout, stderr = resumed.communicate()
    assert resumed.returncode == 0, stderr
    assert "resuming: 3 of 8 episodes already recorded" in stderr
    keys = Counter(r.spec.episode_key for r in read_records(out / "records.jsonl").records)
    assert len(keys) == len(SEEDS) and set(keys.values()) == {1}
    assert sorted(recorded(out)) == SEEDS


def test_one_ctrl_c_finishes_running_episodes_and_starts_no_more(tmp_path: Path):
    out, gate = tmp_path / "run", tmp_path / "gate"
    run = start_run(out, gate)
    wait_for(lambda: len(recorded(out)) >= 3, "seeds 0-2 to be recorded")
    run.send_signal(signal.SIGINT)
    notice = ""
    while "finishing the running episodes" not in notice:
        line = run.stderr.readline()
        assert line, "the run exited without acknowledging Ctrl-C"
        notice += line
    gate.touch()  # let the two running episodes finish
    _, stderr = run.communicate()
    assert run.returncode == 130
    assert "--resume" in stderr
    assert sorted(recorded(out)) == [0, 1, 2, 3, 4]  # the two in flight finished and were recorded; no others


def test_a_second_ctrl_c_abandons_running_episodes_at_once(tmp_path: Path):
    out, gate = tmp_path / "run", tmp_path / "gate"
    run = start_run(out, gate)
    wait_for(lambda: len(recorded(out)) >= 3, "seeds 0-2 to be recorded")
    run.send_signal(signal.SIGINT)
    while "finishing the running episodes" not in (run.stderr.readline() or "finishing the running episodes"):
        pass
    run.send_signal(signal.SIGINT)  # the gate stays shut: only abandoning can end this run
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "abandoned 2 running episode(s)" in " ".join(stderr.split())
    assert sorted(recorded(out)) == [0, 1, 2]
