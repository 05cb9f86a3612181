"""The second wall: kubectl runs under bubblewrap, and each embedded cluster answers only to its own token.

These tests go around the parser on purpose (``Kubectl.execute`` takes an argv as given) to show what kubectl itself
can and cannot reach if a flag ever got through.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from opsgym.cluster.cleanup import private_dir, reclaim_private_dirs
from opsgym.cluster.kubectl import Kubectl, find_kubectl
from opsgym.cluster.kubectl_sandbox import unavailable_reason
from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.server import UNAUTHORIZED

KUBECTL = find_kubectl()
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
needs_sandbox = pytest.mark.skipif(KUBECTL is None or bool(unavailable_reason(KUBECTL)),
                                   reason=f"kubectl cannot run under bubblewrap here: "
                                          f"{unavailable_reason(KUBECTL) if KUBECTL else 'no kubectl'}")


@pytest.fixture(scope="module")
def two_clusters() -> Iterator[tuple[SimCluster, SimCluster]]:
    with SimCluster() as one, SimCluster() as two:
        yield one, two


def _get(url: str, token: str, cluster: SimCluster) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, context=ssl.create_default_context(cadata=cluster.certificate_pem)) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_another_clusters_port_answers_401_to_this_episodes_token(two_clusters):
    one, two = two_clusters
    assert _get(f"{one.url}/api/v1/namespaces", one.token, one)[0] == 200
    status, body = _get(f"{two.url}/api/v1/namespaces", one.token, two)
    assert status == 401 and yaml.safe_load(body) == UNAUTHORIZED
    assert _get(f"{two.url}/version", "", two)[0] == 401
    assert one.token != two.token and len(one.token) >= 32


@needs_kubectl
def test_kubectl_pointed_at_another_clusters_port_is_unauthorized(two_clusters, tmp_path):
    one, two = two_clusters
    config = yaml.safe_load(one.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = two.url  # what `-s <two>` would have done
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
    done = Kubectl(tmp_path / "kubeconfig", sandbox=False).execute(["delete", "configmap", "x", "-n", "default"])
    assert (done.returncode != 0 and "Unauthorized" in done.stderr + done.stdout) or "credentials" in done.stderr


@needs_sandbox
def test_sandboxed_kubectl_works_against_its_cluster(two_clusters):
    one, _ = two_clusters
    result = Kubectl(one.kubeconfig).run("kubectl get ns -o name")
    assert result.ok and "namespace/kube-public" in result.observation


@needs_sandbox
@pytest.mark.parametrize("argv, host_path", [
    (["get", "ns", "-o", "jsonpath-file=/etc/shadow"], "/etc/shadow"),
    (["get", "ns", "-o", "go-template-file", "--template", "/etc/passwd"], "/etc/passwd"),
    (["get", "ns", "--kubeconfig", "/etc/passwd"], "/etc/passwd"),
    (["get", "ns", "--kubeconfig", f"/proc/{os.getpid()}/environ"], f"/proc/{os.getpid()}/environ"),
    (["get", "ns", "--kubeconfig", str(Path.home() / ".bashrc")], str(Path.home())),
])
def test_sandboxed_kubectl_cannot_read_a_host_file_even_if_a_flag_slipped_through(two_clusters, argv, host_path):
    one, _ = two_clusters
    assert os.path.exists(host_path)
    done = Kubectl(one.kubeconfig).execute(argv)
    assert done.returncode != 0 and "no such file or directory" in done.stderr.lower()


@needs_sandbox
def test_sandboxed_kubectl_cannot_write_a_host_file(two_clusters, tmp_path):
    one, _ = two_clusters
    target = tmp_path / "profile.out"
    Kubectl(one.kubeconfig).execute(["get", "ns", "--profile=cpu", f"--profile-output={target}"])
    assert not target.exists()


@needs_sandbox
def test_unsandboxed_the_same_argv_does_read_the_file(two_clusters, tmp_path):
    """The control: the file-reading argv above really reads host files when kubectl is not sandboxed."""
    one, _ = two_clusters
    template = tmp_path / "t.tmpl"
    template.write_text("{{len .items}} namespaces\n")
    argv = ["get", "ns", "-o", "go-template-file", "--template", str(template)]
    assert Kubectl(one.kubeconfig, sandbox=False).execute(argv).stdout.strip() == "4 namespaces"
    assert Kubectl(one.kubeconfig).execute(argv).returncode != 0


def test_without_bubblewrap_kubectl_refuses_to_start_unless_opted_out(tmp_path, monkeypatch):
    if KUBECTL is None:
        pytest.skip("kubectl is not installed")
    from opsgym.cluster import kubectl_sandbox
    from opsgym.errors import BackendUnavailableError

    monkeypatch.setattr(kubectl_sandbox, "unavailable_reason", lambda binary: "bubblewrap (bwrap) is not installed")
    with pytest.raises(BackendUnavailableError, match="OPSGYM_KUBECTL_SANDBOX=off"):
        Kubectl(tmp_path / "kubeconfig")
    monkeypatch.setenv("OPSGYM_KUBECTL_SANDBOX", "off")
    with pytest.warns(RuntimeWarning, match="unsandboxed"):
        assert Kubectl(tmp_path / "kubeconfig").sandbox is None


def test_folders_of_killed_runs_are_reclaimed_and_live_ones_kept(tmp_path):
    live = private_dir("opsgym-test-reclaim-")
    try:
        child = subprocess.Popen(["sleep", "0"])
        child.wait()
        dead = tmp_path / f"opsgym-sim-{child.pid}-1-abc"  # a pid no longer running (or reused at another time)
        reused = tmp_path / f"opsgym-sim-{os.getpid()}-1-abc"  # our pid, but another start time: a previous owner
        mine = tmp_path / live.name.replace("opsgym-test-reclaim-", "opsgym-sim-")
        strangers = [tmp_path / "opsgym-sim-notapid", tmp_path / "opsgym-sim-12-"]
        for folder in (dead, reused, mine, *strangers):
            (folder / "cache").mkdir(parents=True)
        assert sorted(reclaim_private_dirs("opsgym-sim-", tmp_path)) == sorted([dead, reused])
        assert mine.exists() and all(s.exists() for s in strangers)
    finally:
        shutil.rmtree(live)


def test_an_embedded_cluster_reclaims_what_a_killed_run_left(tmp_path):
    script = ("import os, sys\nfrom opsgym.cluster.sim import SimCluster\nc = SimCluster(); c.start()\n"
              "print(c.kubeconfig.parent, flush=True)\nos.kill(os.getpid(), 9)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    left = Path(done.stdout.strip())
    assert left.name.startswith("opsgym-sim-") and left.exists()
    from opsgym.cluster.sim import cluster as sim_cluster

    sim_cluster._reclaim_once.cache_clear()
    with SimCluster():
        assert not left.exists()
