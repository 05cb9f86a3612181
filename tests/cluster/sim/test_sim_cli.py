"""``opsgym cluster up`` serves a cluster that kubectl can use until it is interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

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
