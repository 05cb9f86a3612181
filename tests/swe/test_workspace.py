"""Workspaces: private copies, removed on close, at exit, and after a crash by the next run's sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from opsgym.swe.workspace import Workspace, sweep_stale

from .conftest import FIXTURES

BASE = FIXTURES / "tiny" / "repo"


@pytest.fixture(autouse=True)
def own_root(tmp_path, monkeypatch):
    root = tmp_path / "workspaces"
    monkeypatch.setenv("OPSGYM_SWE_WORKDIR", str(root))
    return root


def test_workspace_is_a_private_copy_and_close_removes_it():
    ws = Workspace(BASE)
    (ws.path / "calc" / "ops.py").write_text("changed\n")
    assert (BASE / "calc" / "ops.py").read_text() != "changed\n"
    other = Workspace(BASE)
    assert (other.path / "calc" / "ops.py").read_text() == (BASE / "calc" / "ops.py").read_text()
    ws.close()
    ws.close()
    assert ws.closed and not ws.dir.exists() and other.dir.exists()
    other.close()


def test_close_removes_a_tree_the_sandbox_made_unreadable():
    ws = Workspace(BASE)
    locked = ws.path / "locked"
    locked.mkdir()
    (locked / "f").write_text("x")
    os.chmod(locked, 0)
    ws.close()
    assert not ws.dir.exists()


def _child(code: str, root) -> subprocess.Popen[str]:
    env = {**os.environ, "OPSGYM_SWE_WORKDIR": str(root)}
    script = f"from opsgym.swe.workspace import Workspace\nws = Workspace({str(BASE)!r})\nprint(ws.dir, flush=True)\n"
    return subprocess.Popen([sys.executable, "-c", script + code], stdout=subprocess.PIPE, text=True, env=env)


def test_interpreter_exit_removes_open_workspaces(own_root):
    child = _child("", own_root)
    path = child.stdout.readline().strip()
    child.wait(timeout=60)
    assert path and not os.path.exists(path)


def test_a_crashed_runs_workspace_is_swept_by_the_next_one(own_root):
    child = _child("import time\ntime.sleep(600)\n", own_root)
    path = child.stdout.readline().strip()
    assert os.path.isdir(path)
    assert sweep_stale(own_root) == []  # its owner is alive: left alone
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert os.path.isdir(path)  # SIGKILL: no atexit ran
    ws = Workspace(BASE)  # creating a workspace sweeps
    assert not os.path.exists(path)
    ws.close()
