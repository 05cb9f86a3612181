"""The kind backend: engine and CLI detection, cluster ownership (create, share, keep, adopt, delete), leak listing.

Without a Docker engine, the cluster lifecycle runs against a stand-in `kind` CLI (a script on PATH that keeps
cluster names in a file and hands out the embedded cluster's kubeconfig) and a docker client double that reports
every image present. The backend's own code does the rest. The real thing runs under the `docker` marker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from opsgym import plugins
from opsgym.cluster.kind import (
    KIND_INSTALL,
    KindCluster,
    KindClusterInfo,
    docker_engine,
    kind_binary,
    list_leaked_clusters,
    unavailable_reason,
)
from opsgym.cluster.sim import SimCluster
from opsgym.errors import BackendUnavailableError, UnsafeClusterError
from opsgym.sre.render import plan
from opsgym.tasks import catalog_folders, load_task

SRE1 = next(t for t in (load_task(f) for f in catalog_folders()) if t.id == "SRE-1")


@pytest.fixture
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the docker SDK at a socket that does not exist (deterministic on every machine, no traffic)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-docker.sock'}")


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def test_no_engine_is_reported_with_how_to_start_one(no_engine: None) -> None:
    with pytest.raises(BackendUnavailableError, match=r"no Docker engine answers .*Start Docker"):
        docker_engine()


def test_start_without_an_engine_fails_cleanly_and_leaves_nothing(no_engine: None, tmp_path: Path) -> None:
    backend = KindCluster(records=tmp_path / "records")
    with pytest.raises(BackendUnavailableError, match="no Docker engine answers"):
        backend.start()
    assert not (tmp_path / "records").exists()
    backend.close()


def test_a_missing_kind_cli_is_reported_with_install_instructions(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackendUnavailableError, match="kind is not installed") as raised:
        kind_binary()
    assert KIND_INSTALL in str(raised.value)
    assert "go install sigs.k8s.io/kind@" in KIND_INSTALL


def test_it_is_a_registered_backend_and_its_clusters_are_always_named_opsgym() -> None:
    assert plugins.create("cluster backend", "kind").cluster_name == "opsgym"
    assert KindCluster(name="ci").cluster_name == "opsgym-ci"
    assert KindCluster(name="opsgym-bench").cluster_name == "opsgym-bench"


def test_a_new_cluster_is_created_used_and_deleted_on_close(kind: Any, fake_kind: Any, tmp_path: Path,
                                                            sim: SimCluster) -> None:
    backend = kind(name="opsgym-t1")
    backend.start()
    assert fake_kind.clusters == ["opsgym-t1"] and backend.created_now
    record = json.loads((tmp_path / "records" / "opsgym-t1.json").read_text())
    assert record["pid"] == os.getpid() and record["keep"] is False
    create = fake_kind.calls("create cluster")[0]
    assert "--kubeconfig" in create, "kind must not write into the user's ~/.kube/config"
    episode = plan(SRE1, 0)
    backend.load("SRE-1/0", episode.objects)
    assert [c[2] for c in fake_kind.calls("load docker-image")] == ["python:3.12-slim"]
    assert episode.namespace in {n.metadata.name for n in client.CoreV1Api(sim.api_client()).list_namespace().items}
    backend.load("SRE-1/0", episode.objects)
    assert len(fake_kind.calls("load docker-image")) == 1, "images are loaded once per backend"
    backend.close()
    assert fake_kind.clusters == []
    assert not (tmp_path / "records" / "opsgym-t1.json").exists()
    assert episode.namespace not in {n.metadata.name for n in client.CoreV1Api(sim.api_client()).list_namespace().items}


def test_envs_of_one_process_share_the_cluster_and_the_last_one_deletes_it(kind: Any, fake_kind: Any) -> None:
    first, second = kind(name="opsgym-t2"), kind(name="opsgym-t2")
    first.start()
    second.start()
    assert len(fake_kind.calls("create cluster")) == 1 and not second.created_now
    first.close()
    assert fake_kind.clusters == ["opsgym-t2"], "still used by the second env"
    second.close()
    assert fake_kind.clusters == []


def test_an_existing_cluster_is_reused_but_never_deleted_by_whoever_did_not_create_it(kind: Any,
                                                                                      fake_kind: Any) -> None:
    fake_kind.add_cluster("opsgym-mine")
    backend = kind(name="opsgym-mine")
    backend.start()
    backend.close()
    assert fake_kind.clusters == ["opsgym-mine"] and fake_kind.calls("create cluster") == []


def test_reuse_false_refuses_an_existing_cluster(kind: Any, fake_kind: Any) -> None:
    fake_kind.add_cluster("opsgym-taken")
    with pytest.raises(UnsafeClusterError, match="already exists; pass reuse=True"):
        kind(name="opsgym-taken", reuse=False).start()
    assert fake_kind.clusters == ["opsgym-taken"]


def test_keep_leaves_the_cluster_for_later_runs_and_doctor_calls_it_kept(kind: Any, fake_kind: Any,
                                                                         tmp_path: Path) -> None:
    backend = kind(name="opsgym-kept", keep="true")
    backend.start()
    backend.close()
    assert fake_kind.clusters == ["opsgym-kept"]
    record = json.loads((tmp_path / "records" / "opsgym-kept.json").read_text())
    assert record["keep"] is True


def test_a_leaked_cluster_is_adopted_and_cleaned_up_by_the_next_run(kind: Any, fake_kind: Any,
                                                                    tmp_path: Path) -> None:
    fake_kind.add_cluster("opsgym-leak")
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "opsgym-leak.json").write_text(json.dumps({"pid": _dead_pid(), "keep": False}))
    backend = kind(name="opsgym-leak")
    backend.start()
    backend.close()
    assert fake_kind.clusters == []


class _Container:
    def __init__(self, cluster: str) -> None:
        self.labels = {"io.x-k8s.kind.cluster": cluster}


class _Containers:
    def __init__(self, clusters: list[str]) -> None:
        self._clusters = clusters
        self.filters: list[Any] = []

    def list(self, all: bool = False, filters: Any = None) -> list[_Container]:
        self.filters.append(filters)
        return [_Container(c) for c in self._clusters for _node in range(2)]


class _Engine:
    def __init__(self, clusters: list[str]) -> None:
        self.containers = _Containers(clusters)


def test_doctor_sees_which_opsgym_clusters_are_in_use_kept_leaked_or_unowned(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    dead = _dead_pid()
    for name, record in {"opsgym-live": {"pid": os.getpid(), "keep": False},
                         "opsgym-kept": {"pid": dead, "keep": True},
                         "opsgym-gone": {"pid": dead, "keep": False}}.items():
        (records / f"{name}.json").write_text(json.dumps(record))
    engine = _Engine(["opsgym-live", "opsgym-kept", "opsgym-gone", "opsgym-byhand", "someone-elses"])
    found = {c.name: c for c in list_leaked_clusters(engine, records)}
    assert {n: c.status for n, c in found.items()} == {"opsgym-live": "in use", "opsgym-kept": "kept",
                                                      "opsgym-gone": "leaked", "opsgym-byhand": "unowned"}
    assert [c.name for c in found.values() if c.leaked] == ["opsgym-gone"]
    assert "kind delete cluster --name opsgym-gone" in found["opsgym-gone"].detail
    assert engine.containers.filters == [{"label": "io.x-k8s.kind.cluster"}]


def test_listing_clusters_without_an_engine_says_so(no_engine: None) -> None:
    with pytest.raises(BackendUnavailableError, match="no Docker engine answers"):
        list_leaked_clusters()
    assert KindClusterInfo("opsgym", "leaked", "").leaked


def test_doctor_can_ask_why_kind_cannot_run_here(no_engine: None) -> None:
    assert unavailable_reason().startswith("no Docker engine answers")


def test_an_image_missing_locally_is_pulled_once_through_docker_then_loaded(kind: Any, fake_kind: Any,
                                                                            fake_docker: Any) -> None:
    docker = fake_docker(present=False)
    backend = kind(name="opsgym-pull", docker_client=docker)
    backend.start()
    backend.load("SRE-1/0", plan(SRE1, 0).objects)
    backend.load("SRE-1/1", plan(SRE1, 1).objects)
    assert docker.images.pulled == [("python", "3.12-slim")]
    assert [c[2] for c in fake_kind.calls("load docker-image")] == ["python:3.12-slim"]
