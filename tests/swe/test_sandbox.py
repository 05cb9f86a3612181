"""The sandbox contains what an untrusted task does: network, filesystem, /root, processes, memory, time.

Network tests only ever use 127.0.0.1: a listener on the *host's* loopback must be unreachable from the sandbox,
which has its own network namespace.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

import pytest

from opsgym.errors import SandboxUnavailableError
from opsgym.swe.sandbox import Limits, Sandbox, network_events


@pytest.fixture
def workdir(tmp_path, sandbox):
    path = tmp_path / "ws"
    path.mkdir()
    if sandbox.owner:
        os.chown(path, *sandbox.owner)
    return path


def _sandbox_uid_processes(uid: int) -> list[str]:
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid:
                found.append(name)
        except OSError:
            continue
    return found


def test_runs_the_venv_python_with_pytest_as_its_own_unprivileged_user(sandbox, workdir):
    result = sandbox.run([sandbox.python, "-c", "import os, pytest; print(os.getuid(), os.getcwd())"], workdir=workdir)
    assert result.returncode == 0, result.output
    uid, cwd = result.stdout.split()
    assert int(uid) != 0 and cwd == "/workspace"
    caps = sandbox.run(["/bin/sh", "-c", "grep -E '^Cap(Eff|Prm)' /proc/self/status"], workdir=workdir).stdout
    assert caps.split() == ["CapPrm:", "0000000000000000", "CapEff:", "0000000000000000"]


def test_host_loopback_listener_is_unreachable_and_only_lo_exists(sandbox, workdir):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        code = (f"import socket\ns = socket.socket()\ns.settimeout(3)\n"
                f"try:\n    s.connect(('127.0.0.1', {port}))\n    print('CONNECTED')\n"
                f"except OSError as exc:\n    print('REFUSED', exc.errno)\n")
        result = sandbox.run([sandbox.python, "-c", code], workdir=workdir)
        listener.settimeout(0.5)
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing from the sandbox ever arrived at the host's listener
    finally:
        listener.close()
    assert result.stdout.startswith("REFUSED"), result.output
    assert {"event": "socket", "call": "socket.connect", "host": "127.0.0.1", "port": str(port)} in result.events
    interfaces = sandbox.run(["/bin/sh", "-c", "tail -n +3 /proc/net/dev | cut -d: -f1"], workdir=workdir).stdout
    assert interfaces.split() == ["lo"]


def test_socket_events_to_other_hosts_count_as_network_attempts():
    events = [{"event": "socket", "host": "127.0.0.1", "port": "80"}, {"event": "socket", "host": "pypi.org"},
              {"event": "timeout"}, {"event": "network", "source": "output"}]
    assert network_events(events) == events[1::2]


def test_only_the_workspace_and_tmp_are_writable(sandbox, workdir):
    script = ("for p in /workspace/ok /tmp/ok /etc/x /usr/x /x /run/opsgym-site/x; do "
              "(echo hi > $p) 2>/dev/null && echo W:$p || echo R:$p; done")
    result = sandbox.run(["/bin/sh", "-c", script], workdir=workdir)
    assert result.stdout.split() == ["W:/workspace/ok", "W:/tmp/ok", "R:/etc/x", "R:/usr/x", "R:/x",
                                     "R:/run/opsgym-site/x"]
    assert (workdir / "ok").read_text() == "hi\n"


def test_root_home_and_the_catalog_are_invisible(sandbox, workdir):
    canary = Path("/root") / f"opsgym-canary-{secrets.token_hex(4)}"
    canary.write_text("secret")
    try:
        listing = sandbox.run(["/bin/sh", "-c", f"cat {canary}; ls -a /root; ls /work/main"], workdir=workdir)
    finally:
        canary.unlink()
    assert "secret" not in listing.stdout and canary.name not in listing.stdout
    assert "envs" not in listing.stdout and "opsgym" not in listing.stdout


def test_fork_bomb_is_contained_and_the_next_command_works(sandbox, workdir):
    bomb = sandbox.run(["/bin/sh", "-c", "b() { b | b & }; b; sleep 1; echo survived"], workdir=workdir,
                       timeout_s=15)
    assert any(e["event"] == "process-limit" for e in bomb.events), bomb.events
    if sandbox.owner:
        assert _sandbox_uid_processes(sandbox.owner[0]) == []
    after = sandbox.run(["/bin/echo", "fine"], workdir=workdir)
    assert after.stdout == "fine\n"


def test_memory_past_the_limit_fails_inside_and_is_reported(tmp_path):
    box = Sandbox("bwrap", limits=Limits(memory_mb=256))
    try:
        result = box.run([box.python, "-c", "x = bytearray(512 << 20)"], workdir=tmp_path)
    finally:
        box.close()
    assert result.returncode != 0 and "MemoryError" in result.stderr
    assert {"event": "memory-limit", "limit_mb": 256} in result.events


def test_wall_clock_timeout_kills_the_whole_sandbox(sandbox, workdir):
    result = sandbox.run(["/bin/sh", "-c", "sleep 300 & sleep 300"], workdir=workdir, timeout_s=1)
    assert result.timed_out and result.duration_s < 30
    assert {"event": "timeout", "limit_s": 1} in result.events
    if sandbox.owner:
        assert _sandbox_uid_processes(sandbox.owner[0]) == []


def test_background_process_is_reported_and_does_not_survive(sandbox, workdir):
    result = sandbox.run(["/bin/sh", "-c", "sleep 300 & echo started"], workdir=workdir)
    assert result.stdout == "started\n" and not result.timed_out
    leftovers = [e for e in result.events if e["event"] == "background-processes"]
    assert leftovers and leftovers[0]["count"] >= 1
    if sandbox.owner:
        assert _sandbox_uid_processes(sandbox.owner[0]) == []


def test_cpu_and_file_size_limits_stop_the_command(tmp_path):
    box = Sandbox("bwrap", limits=Limits(cpu_s=1, fsize_mb=1, timeout_s=30))
    try:
        spin = box.run(["/bin/sh", "-c", "while :; do :; done"], workdir=tmp_path)
        big = box.run(["/bin/sh", "-c", "head -c 5000000 /dev/zero > /tmp/big"], workdir=tmp_path)
    finally:
        box.close()
    assert not spin.timed_out and {"event": "cpu-limit", "limit": 1} in spin.events
    assert {"event": "file-size-limit", "limit": 1} in big.events


def test_missing_bwrap_refuses_with_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        Sandbox("bwrap")


def test_unsafe_local_mode_is_explicit_and_loud(tmp_path):
    with pytest.warns(RuntimeWarning, match="UNISOLATED"):
        box = Sandbox("unsafe-local")
    try:
        result = box.run([sys.executable, "-c", "import os; print(os.getcwd())"], workdir=tmp_path)
    finally:
        box.close()
    assert result.stdout.strip() == str(tmp_path)
    with pytest.raises(SandboxUnavailableError, match="unknown SWE sandbox backend"):
        Sandbox("docker")


def test_memory_limit_caps_a_commands_processes_together(tmp_path):
    box = Sandbox("bwrap", limits=Limits(memory_mb=200, timeout_s=60))
    if box.memory_scope != "command":
        box.close()
        pytest.skip("no memory cgroup can be made here (needs root or a delegated cgroup v2): the limit is per process")
    code = ("import os\nready_r, ready_w = os.pipe()\nhold_r, hold_w = os.pipe()\nkids = []\n"
            "for _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n"
            "        os.close(ready_r)\n        os.close(hold_w)\n"
            "        block = bytearray(150 << 20)\n        block[::4096] = b'x' * len(block[::4096])\n"
            "        os.write(ready_w, b'r')\n        os.close(ready_w)\n        os.read(hold_r, 1)\n"
            "        os._exit(0)\n    kids.append(pid)\nos.close(ready_w)\n"
            "while os.read(ready_r, 1):\n    pass\n"  # EOF: every child has allocated and signalled, or died
            "os.close(hold_w)\n"
            "print([os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in kids])\n")
    try:
        result = box.run([box.python, "-c", code], workdir=tmp_path)
    finally:
        box.close()
    codes = [int(c) for c in result.stdout.strip().strip("[]").split(",")]
    assert len(codes) == 4 and codes.count(-9) >= 1, result.output  # 4 x 150 MiB cannot all live under 200 MiB
    assert {"event": "memory-limit", "limit_mb": 200, "scope": "command"} in result.events


def test_the_events_file_cannot_be_swapped_for_a_link_a_fifo_or_a_folder(sandbox, workdir, tmp_path):
    host_file = tmp_path / "host.jsonl"
    host_file.write_text('{"event": "read-from-the-host"}\n')
    swaps = [f"ln -sf {host_file} /run/opsgym/events.jsonl", "rm -f /run/opsgym/events.jsonl; mkfifo "
             "/run/opsgym/events.jsonl", "rm -f /run/opsgym/events.jsonl; mkdir /run/opsgym/events.jsonl",
             "chmod 000 /run/opsgym"]
    for swap in swaps:
        result = sandbox.run(["/bin/sh", "-c", swap], workdir=workdir)
        assert result.returncode == 0 and result.started, (swap, result.output)
        assert all(e["event"] != "read-from-the-host" for e in result.events), swap
    after = sandbox.run(["/bin/echo", "fine"], workdir=workdir)
    assert after.stdout == "fine\n" and after.started


def test_a_workdir_the_last_command_locked_is_entered_again(sandbox, workdir):
    assert sandbox.run(["/bin/chmod", "000", "/workspace"], workdir=workdir).returncode == 0
    after = sandbox.run(["/bin/sh", "-c", "echo fine > f && cat f"], workdir=workdir)
    assert after.started and after.stdout == "fine\n", after.output
