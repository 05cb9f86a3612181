"""``opsgym cluster up`` serves a cluster that kubectl can use until it is interrupted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def test_cluster_up_serves_until_interrupted(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen([sys.executable, "-c", "from opsgym.cli import app; app()", "cluster", "up",
                                "--kubeconfig", str(kubeconfig), "--frozen"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        line = ""
        for line in process.stdout:
            if "Embedded cluster ready" in line:
                break
        assert f"export KUBECONFIG={kubeconfig}" in line
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp_path / "cache")}
        out = subprocess.run(["kubectl", "get", "namespaces"], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "kube-system" in out.stdout
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    assert "stopping" in process.stdout.read()


def _newest_stamp(env: dict[str, str]) -> float:
    out = subprocess.run(["kubectl", "get", "events,pods", "-A", "-o", "json"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    stamps = [item["metadata"]["creationTimestamp"] for item in json.loads(out.stdout)["items"]]
    stamps += [item.get("lastTimestamp") or "" for item in json.loads(out.stdout)["items"]]
    return max(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in stamps if s)


def test_a_real_time_cluster_never_runs_ahead_of_the_wall_clock(tmp_path):
    """kubectl computes describe's and `kubectl events`' ages from the host clock, `get`'s on the server: they agree
    only if no object is stamped in the future — neither after the incident settles nor after a watch waited."""
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen([sys.executable, "-c", "from opsgym.cli import app; app()", "cluster", "up",
                                "--kubeconfig", str(kubeconfig), "--task", "SRE-1"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "300"})
    try:
        for line in process.stdout:
            if "Embedded cluster ready" in line:
                break
        env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp_path / "cache")}
        loaded = time.time()
        assert loaded - 600 < _newest_stamp(env) <= loaded + 1
        waited = subprocess.run(["kubectl", "get", "pods", "-n", "market", "-w", "--request-timeout=3s"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert "CrashLoopBackOff" in waited.stdout  # the watch ran, and waited in wall time, not virtual
        assert _newest_stamp(env) <= time.time() + 1
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
