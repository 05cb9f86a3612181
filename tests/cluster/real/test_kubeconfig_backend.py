"""The kubeconfig backend: refuses production-looking contexts, and loads episodes into its own namespaces only.

Loading runs against the embedded cluster (a real Kubernetes API on 127.0.0.1) through the kubernetes client, the
way it runs against a user's cluster; see conftest.py for the two boundary doubles.
"""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from opsgym import plugins
from opsgym.cluster.access import MANAGED_BY
from opsgym.cluster.base import ApiReader, ClusterBackend
from opsgym.cluster.kubeconfig import KubeconfigCluster, default_kubeconfig, production_reasons, unavailable_reason
from opsgym.cluster.kubectl import Kubectl
from opsgym.cluster.sim import SimCluster
from opsgym.errors import BackendUnavailableError, InfrastructureError, UnsafeClusterError
from opsgym.sre.checks import ClusterView, crashlooping
from opsgym.sre.render import plan
from opsgym.tasks import catalog_folders, load_task

SRE1 = next(t for t in (load_task(f) for f in catalog_folders()) if t.id == "SRE-1")


def _kubeconfig(tmp_path: Path, context: str, cluster: str, server: str, sim: SimCluster | None = None) -> Path:
    """An admin kubeconfig; for the embedded cluster ``sim``, with its CA and token (it serves TLS, asks a token)."""
    path = tmp_path / "admin.kubeconfig"
    entry = {"server": server}
    if sim is not None:
        entry["certificate-authority-data"] = base64.b64encode(sim.certificate_pem.encode()).decode()
    token = sim.token if sim is not None else "admin"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": cluster, "cluster": entry}],
        "contexts": [{"name": context, "context": {"cluster": cluster, "user": "me"}}],
        "users": [{"name": "me", "user": {"token": token}}]}))
    return path


def _episode(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    episode = plan(SRE1, seed)
    return episode, episode.objects()


def _seeds_with_two_namespaces() -> tuple[int, int]:
    first = plan(SRE1, 0).namespace
    return 0, next(s for s in range(1, 200) if plan(SRE1, s).namespace != first)


def _namespaces(api: client.ApiClient) -> set[str]:
    return {n.metadata.name for n in client.CoreV1Api(api).list_namespace().items}


@pytest.mark.parametrize(("context", "cluster", "server", "why"), [
    ("prod-eu", "eu", "https://127.0.0.1:6443", "context 'prod-eu' looks like a production name"),
    ("admin@cluster", "shop-production", "https://127.0.0.1:6443", "cluster 'shop-production'"),
    ("gke_acme_us-central1_prd", "c", "https://[::1]:6443", "looks like a production name"),
    ("live", "c", "http://localhost:8080", "context 'live'"),
    ("kind-opsgym", "kind-opsgym", "https://10.0.0.5:6443", "is not on this machine"),
    ("staging", "staging", "https://api.staging.example.com", "is not on this machine"),
])
def test_contexts_that_look_like_production_are_named_with_the_reason(context: str, cluster: str, server: str,
                                                                      why: str) -> None:
    assert any(why in r for r in production_reasons(context, cluster, server))


@pytest.mark.parametrize(("context", "server"), [
    ("kind-opsgym", "https://127.0.0.1:40123"), ("product-catalog-dev", "https://localhost:6443"),
    ("minikube", "https://[::1]:8443"), ("docker-desktop", "https://kubernetes.docker.internal:6443"),
])
def test_local_disposable_clusters_are_not_production(context: str, server: str) -> None:
    assert production_reasons(context, context, server) == []


def test_a_production_context_is_refused_before_anything_is_sent_to_it(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "prod", "prod", "https://k8s.example.invalid:6443")
    backend = KubeconfigCluster(kubeconfig=path)
    with pytest.raises(UnsafeClusterError, match=r"refusing to run on context 'prod'.*allow_production=True"):
        backend.start()
    with pytest.raises(InfrastructureError, match="not started"):
        backend.api_client()


def test_allow_production_lets_a_prod_named_local_context_run(sim: SimCluster, tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "prod-drill", "drill", sim.url, sim)
    backend = KubeconfigCluster(kubeconfig=path, allow_production="true")
    backend.start()
    try:
        assert "default" in _namespaces(backend.api_client())
    finally:
        backend.close()


def test_a_missing_file_or_context_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'none'}:{tmp_path / 'other'}")
    assert default_kubeconfig() == tmp_path / "none"
    with pytest.raises(BackendUnavailableError, match=r"no kubeconfig at .*none; pass kubeconfig=PATH"):
        KubeconfigCluster().start()
    path = _kubeconfig(tmp_path, "kind-a", "kind-a", "https://127.0.0.1:1")
    with pytest.raises(BackendUnavailableError, match="context 'kind-b' is not in the kubeconfig"):
        KubeconfigCluster(kubeconfig=path, context="kind-b").start()


def test_it_is_a_registered_cluster_backend_on_wall_clock_time(tmp_path: Path) -> None:
    backend = plugins.create("cluster backend", "kubeconfig", kubeconfig=tmp_path / "k")
    try:  # on Python 3.11 the isinstance check reads every property, the lazily made work folder too: close it
        assert isinstance(backend, ClusterBackend)
        assert backend.name == "kubeconfig" and backend.virtual_time is False
    finally:
        backend.close()


def test_load_creates_the_labelled_namespace_the_task_objects_and_the_agent_kubeconfig(sim: SimCluster,
                                                                                       sim_backend: Any) -> None:
    episode, objects = _episode(0)
    sim_backend.load("SRE-1/0", lambda: objects)
    api = sim_backend.api_client()
    namespace = client.CoreV1Api(api).read_namespace(episode.namespace)
    assert namespace.metadata.labels[MANAGED_BY] == "opsgym"
    assert "opsgym.io/task" not in namespace.metadata.labels  # the agent must not read the task off a label
    deployments = {d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment(episode.namespace).items}
    assert deployments == set(episode.app.services)
    assert "opsgym-agent" in {s.metadata.name for s in client.CoreV1Api(api).list_namespaced_service_account(
        episode.namespace).items}
    config = yaml.safe_load(sim_backend.kubeconfig.read_text())
    assert config["users"][0]["user"]["token"] == "token-issued-by-the-test-double"
    assert config["clusters"][0]["cluster"]["server"] == sim.url
    assert stat.S_IMODE(sim_backend.kubeconfig.stat().st_mode) == 0o600
    assert "labels" not in objects[0]["metadata"] or MANAGED_BY not in objects[0]["metadata"]["labels"], \
        "the scenario's rendered objects are not modified (it derives its baseline from them)"


def test_the_agents_kubectl_reaches_the_episode_through_the_same_front_end(sim_backend: Any) -> None:
    episode, objects = _episode(0)
    sim_backend.load("SRE-1/0", lambda: objects)
    result = Kubectl(sim_backend.kubeconfig).run(f"kubectl get deploy -n {episode.namespace}")
    assert result.ok, result.observation
    assert episode.service in result.observation
    refused = Kubectl(sim_backend.kubeconfig).run(f"kubectl get pods -n {episode.namespace} --kubeconfig /x")
    assert not refused.ok and refused.cls == "invalid"


def test_reset_tears_the_namespace_down_and_applies_it_again(sim_backend: Any) -> None:
    episode, objects = _episode(0)
    sim_backend.load("SRE-1/0", lambda: objects)
    core = client.CoreV1Api(sim_backend.api_client())
    core.create_namespaced_config_map(episode.namespace, {"metadata": {"name": "left-by-the-agent"}})
    core.patch_namespaced_config_map(f"{episode.service}-config", episode.namespace, {"data": {"EXTRA": "1"}})
    sim_backend.load("SRE-1/0", lambda: objects)
    names = {c.metadata.name for c in core.list_namespaced_config_map(episode.namespace).items}
    assert "left-by-the-agent" not in names
    assert "EXTRA" not in core.read_namespaced_config_map(f"{episode.service}-config", episode.namespace).data


def test_the_next_episode_removes_the_previous_episodes_namespace(sim_backend: Any) -> None:
    first, second = _seeds_with_two_namespaces()
    one, objects_one = _episode(first)
    two, objects_two = _episode(second)
    sim_backend.load("a", lambda: objects_one)
    sim_backend.load("b", lambda: objects_two)
    present = _namespaces(sim_backend.api_client())
    assert two.namespace in present and one.namespace not in present


def test_a_namespace_opsgym_did_not_create_is_never_replaced(sim_backend: Any) -> None:
    episode, objects = _episode(0)
    core = client.CoreV1Api(sim_backend.api_client())
    core.create_namespace({"metadata": {"name": episode.namespace, "labels": {"team": "payments"}}})
    core.create_namespaced_config_map(episode.namespace, {"metadata": {"name": "theirs"}})
    with pytest.raises(UnsafeClusterError, match=f"namespace '{episode.namespace}' exists and was not created"):
        sim_backend.load("SRE-1/0", lambda: objects)
    assert core.read_namespaced_config_map("theirs", episode.namespace).metadata.name == "theirs"


def test_load_waits_until_the_fault_is_observable(sim: SimCluster, sim_backend: Any) -> None:
    """The ready predicate the SRE scenario passes, polled by the backend; the sim's clock stands in for wall time."""
    episode, objects = _episode(0)
    others = [s for s in episode.app.services if s != episode.service]
    polls: list[bool] = []

    def ready(reader: ApiReader) -> bool:
        polls.append(crashlooping(ClusterView(reader), episode.namespace, episode.service, others))
        sim.advance(5.0)
        return polls[-1]

    sim_backend.load("SRE-1/0", lambda: objects, ready=ready)
    assert polls[-1] is True and polls[0] is False
    assert set(sim_backend.timings) == {"teardown_s", "prepare_s", "apply_s", "ready_s"}


def test_a_fault_that_never_shows_times_out_with_what_the_pods_are_doing(sim_backend: Any) -> None:
    episode, objects = _episode(0)
    with pytest.raises(InfrastructureError, match=f"did not become observable within 0 s.*Pods in {episode.namespace}"):
        sim_backend.load("SRE-1/0", lambda: objects, ready=lambda api: False, timeout_s=0)


def test_without_doubles_the_agent_acts_as_its_service_account_confined_to_the_namespace(sim: SimCluster,
                                                                                        tmp_path: Path) -> None:
    """The backend's own path: Role and RoleBinding created, a token from the TokenRequest API, and the cluster's
    RBAC (the embedded cluster enforces it as kind does) stopping the agent at the namespace boundary."""
    backend = KubeconfigCluster(kubeconfig=sim.kubeconfig, poll_s=0.0, workdir=tmp_path / "work")
    backend.start()
    try:
        episode, objects = _episode(0)
        backend.load("SRE-1/0", lambda: objects)
        token = yaml.safe_load(backend.kubeconfig.read_text())["users"][0]["user"]["token"]
        assert token not in (sim.token, "token-issued-by-the-test-double") and token.count(".") == 2
        kubectl = Kubectl(backend.kubeconfig)
        allowed = kubectl.run(f"kubectl get deploy -n {episode.namespace}")
        assert allowed.ok and episode.service in allowed.observation, allowed.observation
        user = f"system:serviceaccount:{episode.namespace}:opsgym-agent"
        refused = kubectl.run("kubectl get pods -n default")
        assert not refused.ok
        assert (f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace '
                '"default"') in refused.observation
    finally:
        backend.close()


def test_close_removes_the_namespace_and_the_agents_credentials_and_can_run_twice(sim: SimCluster,
                                                                                  sim_backed_kubeconfig: Any) -> None:
    backend = sim_backed_kubeconfig(kubeconfig=sim.kubeconfig, poll_s=0.0)
    backend.start()
    episode, objects = _episode(0)
    backend.load("SRE-1/0", lambda: objects)
    workdir = backend.kubeconfig.parent
    backend.close()
    backend.close()
    assert episode.namespace not in _namespaces(sim.api_client())
    assert not workdir.exists()


def test_doctor_can_ask_why_a_context_cannot_be_used_without_contacting_it(tmp_path: Path) -> None:
    local = _kubeconfig(tmp_path, "kind-opsgym", "kind-opsgym", "https://127.0.0.1:1")
    assert unavailable_reason(local) == ""
    remote = _kubeconfig(tmp_path, "ops", "ops", "https://k8s.example.invalid:6443")
    assert "is not on this machine" in unavailable_reason(remote)
    assert "no kubeconfig at" in unavailable_reason(tmp_path / "missing")


def test_a_cluster_that_does_not_answer_is_reported_and_nothing_is_left_running(tmp_path: Path) -> None:
    path = _kubeconfig(tmp_path, "kind-down", "kind-down", "http://127.0.0.1:1")
    backend = KubeconfigCluster(kubeconfig=path)
    with pytest.raises(BackendUnavailableError, match=r"cluster at http://127\.0\.0\.1:1 does not answer"):
        backend.start()
    with pytest.raises(InfrastructureError, match="not started"):
        backend.api_client()
