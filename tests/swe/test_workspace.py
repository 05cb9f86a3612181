"""Workspaces: private copies, removed on close, at exit, and after a crash by the next run's sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from opsgym.swe.workspace import Workspace, copy_tree, iter_files, parents_are_real, remove_tree, sweep_stale

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


def test_copies_and_listings_keep_links_as_links_and_leave_special_files_out(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "a.py").write_text("a = 1\n")
    (src / "__pycache__").mkdir()
    (src / "pkg" / "a.cpython-311.pyc").write_bytes(b"\0")
    os.mkfifo(src / "pkg" / "pipe")
    os.symlink("/etc", src / "etc-link")
    os.symlink("a.py", src / "pkg" / "alias.py")
    assert list(iter_files(src)) == ["etc-link", "pkg/a.py", "pkg/alias.py"]
    dest = tmp_path / "dest"
    assert copy_tree(src, dest) == ["pkg/pipe"]
    assert list(iter_files(dest)) == ["etc-link", "pkg/a.py", "pkg/alias.py"]
    assert os.readlink(dest / "etc-link") == "/etc" and os.readlink(dest / "pkg" / "alias.py") == "a.py"
    assert sorted(os.listdir(dest)) == ["etc-link", "pkg"]


def test_parents_are_real_only_without_a_symlink_or_a_climb_on_the_way(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert parents_are_real(tmp_path, "real/x.py") and parents_are_real(tmp_path, "top.py")
    assert not parents_are_real(tmp_path, "link/x.py")
    assert not parents_are_real(tmp_path, "missing/x.py")
    assert not parents_are_real(tmp_path / "real", "../x.py") and parents_are_real(tmp_path / "real", "../real/x.py")


def test_a_tree_nested_past_the_recursion_limit_and_path_max_is_removed_without_following_links(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("host\n")
    top = tmp_path / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for _ in range(2500):  # 5000 characters of path: deeper than PATH_MAX and the recursion limit
        os.mkdir("d", dir_fd=fd)
        os.symlink(str(outside), "link", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.chmod(fd, 0)
    os.close(fd)
    remove_tree(top)
    assert not top.exists() and (outside / "keep").read_text() == "host\n"
