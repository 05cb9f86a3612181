"""What any workspace can cost the host is bounded: its size and file count, every host-side read of what the agent
wrote, the CPU a command's processes may use together; and a network attempt is seen by the kernel, not in stderr.

Network: no packet ever leaves. The sandbox has its own network namespace holding only ``lo`` (each command below
checks that before trying), so a connect to TEST-NET-1 (192.0.2.1, reserved for documentation) fails in the route
lookup inside that namespace, before any packet exists.
"""

from __future__ import annotations

import os
import shlex
import tracemalloc

import pytest

from opsgym.env import make_env
from opsgym.swe.sandbox import Limits, Sandbox

from .conftest import needs_bwrap

pytestmark = [needs_bwrap, pytest.mark.timeout(300)]

ONLY_LO = ("import socket\nnames = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]\n"
           "assert names == ['lo'], names\n")
P2P = ["tests/test_ops.py::test_add", "tests/test_ops.py::test_clamp_below", "tests/test_ops.py::test_mean"]
NETWORK_ATTEMPTS = {
    "tcp-connect": ONLY_LO + "s = socket.socket()\ns.settimeout(2)\nprint(s.connect_ex(('192.0.2.1', 80)))\n",
    "udp-sendto": ONLY_LO + "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                            "try:\n    s.sendto(b'x', ('192.0.2.1', 53))\nexcept OSError as e:\n    print(e.errno)\n",
}


def _env(task, **options):
    environment = make_env(task, backend_options={"timeout_s": 60, **options})
    environment.reset(seed=0)
    return environment


def _step(env, action):
    obs, reward, terminated, _, info = env.step(action)
    return obs, info, env.unwrapped._actions[-1]


def _usage(root) -> tuple[int, int]:
    """Bytes really held (blocks, so a sparse file counts what it holds) and inodes under ``root``."""
    used = count = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            used, count = used + st.st_blocks * 512, count + 1
    return used, count


def test_sparse_and_huge_files_keep_diff_and_grading_bounded(tiny_task):
    env = _env(tiny_task)
    try:
        obs, *_ = _step(env, "run for i in 1 2 3 4 5 6 7 8; do truncate -s 64M sparse$i; done; "
                             "head -c 50000000 /dev/urandom > huge.bin; echo made")
        assert "made" in obs
        tracemalloc.start()
        try:
            diff, *_ = _step(env, "diff")
            opened, _, record = _step(env, "open sparse1")
            found, *_ = _step(env, "search clamp")
            _, info, _ = _step(env, "submit")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        grading_bytes, _ = _usage(env.unwrapped._scenario.workspace.dir / "grading")
    finally:
        env.close()
    assert peak < 24 << 20, f"host-side diff and grading held {peak >> 20} MiB"
    assert grading_bytes < 80 << 20, f"the grading copy holds {grading_bytes >> 20} MiB (sparse files expanded)"
    assert "sparse1" in diff and "huge.bin" in diff
    assert record.cls == "invalid" and "sparse" in opened and "calc/ops.py" in found
    assert info["outcome"]["extra"]["resolution"] == "RESOLVED_NO"


def test_the_workspace_has_a_size_and_inode_quota(tiny_task):
    env = _env(tiny_task, workspace_mb=16, workspace_inodes=400)
    try:
        big, *_ = _step(env, "run python\nimport errno\nfor i in range(4):\n    try:\n"
                             "        open(f'blob{i}', 'wb').write(b'x' * (8 << 20))\n"
                             "    except OSError as e:\n        print('blob', i, errno.errorcode[e.errno])\n")
        many, *_ = _step(env, "run python\nimport errno, os\nos.mkdir('many')\nfor i in range(2000):\n    try:\n"
                              "        open(f'many/{i}', 'w').close()\n    except OSError as e:\n"
                              "        print('file', i, errno.errorcode[e.errno])\n        break\n")
        used, count = _usage(env.unwrapped._scenario.workspace.path)
        after, *_ = _step(env, "run rm -rf many blob*; echo cleaned")
    finally:
        env.close()
    assert "ENOSPC" in big and "ENOSPC" in many, (big, many)
    assert used <= 16 << 20 and count <= 400
    assert "cleaned" in after


def test_where_no_quota_can_be_mounted_an_oversized_tree_is_reported_and_not_graded(tiny_task, monkeypatch):
    monkeypatch.setattr("opsgym.swe.workspace.mount_quota", lambda *args: False)
    env = _env(tiny_task, workspace_mb=4)
    try:
        _, _, record = _step(env, "run head -c 6000000 /dev/zero > filler")
        _, info, _ = _step(env, "submit")
    finally:
        env.close()
    assert any(e["event"] == "workspace-quota" for e in record.detail["events"]), record.detail
    extra = info["outcome"]["extra"]
    assert extra["resolution"] == "RESOLVED_NO" and sorted(extra["p2p"]["failure"]) == P2P
    assert {"event": "workspace-quota", "action": "grading"} in extra["sandbox_events"]


def test_a_fork_bomb_gets_one_cpu_of_time_not_every_core(tmp_path):
    box = Sandbox("bwrap", limits=Limits(cpus=1.0, timeout_s=4, cpu_s=60))
    if box.cpu_scope != "command":
        box.close()
        pytest.skip("no cpu cgroup can be made here (needs root or a delegated cgroup v2)")
    try:
        if box.owner:
            os.chown(tmp_path, *box.owner)
        result = box.run(["/bin/sh", "-c", "b() { b | b & }; b; while :; do :; done"], workdir=tmp_path)
    finally:
        box.close()
    assert result.timed_out
    assert 0.5 < result.cpu_s <= 4 * 1.0 * 1.15 + 0.3, result.cpu_s  # accounted by the kernel, not wall clock


@pytest.mark.parametrize("attempt", sorted(NETWORK_ATTEMPTS))
def test_a_network_attempt_is_seen_without_the_audit_hook_or_stderr(tiny_task, attempt):
    env = _env(tiny_task)
    try:
        obs, _, record = _step(env, f"run python -I -c {shlex.quote(NETWORK_ATTEMPTS[attempt])} 2>/dev/null")
        _, info, _ = _step(env, "submit")
    finally:
        env.close()
    assert "AssertionError" not in obs and "exit code 0" in obs, obs
    assert record.detail.get("network") is True, record.detail
    assert info["outcome"]["extra"]["network_attempts"]
    assert "network-attempt" in {p["rule"] for p in info["metrics"]["penalties"]}


def test_a_connect_to_the_sandboxes_own_loopback_is_not_a_network_attempt(tiny_task):
    code = ("import socket\nsrv = socket.socket()\nsrv.bind(('127.0.0.1', 0))\nsrv.listen()\n"
            "c = socket.create_connection(srv.getsockname())\nprint('local ok')\n")
    env = _env(tiny_task)
    try:
        obs, _, record = _step(env, f"run python -I -c {shlex.quote(code)}")
    finally:
        env.close()
    assert "local ok" in obs and not record.detail.get("network"), record.detail
