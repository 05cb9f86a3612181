"""Fixtures for the real-cluster backends: the embedded cluster standing in for a real API, and the docker gate.

The kind and kubeconfig backends talk to clusters through the kubernetes Python client, which is exactly how they talk
to the embedded cluster (a real Kubernetes API over HTTP on 127.0.0.1). Two things are replaced by test doubles at their
boundary, so these tests act with the admin's view: RBAC objects (``rbac.authorization.k8s.io``) and ServiceAccount
tokens (the TokenRequest API); test_kubeconfig_backend.py also runs the backend's own RBAC and token path against the
embedded cluster, which enforces it. Everything else — namespace teardown, re-apply, ownership checks, the agent's
kubeconfig, waiting for the fault, cleanup — runs the backends' own code.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsgym.cluster.kind import KindCluster
from opsgym.cluster.kubeconfig import KubeconfigCluster
from opsgym.cluster.sim import SimCluster

SIM_TOKEN = "token-issued-by-the-test-double"


def _sim_served(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The access objects minus RBAC kinds (the doubles' tests use the admin token, which no Role restricts)."""
    return [o for o in objects if not o["apiVersion"].startswith("rbac.authorization.k8s.io/")]


class SimBackedKubeconfig(KubeconfigCluster):
    """The kubeconfig backend with the two boundary doubles described in the module docstring."""

    def access_objects(self, namespace: str) -> list[dict[str, Any]]:
        return _sim_served(super().access_objects(namespace))

    def agent_token(self, namespace: str) -> str:
        return SIM_TOKEN


class SimBackedKind(KindCluster):
    """The kind backend whose `kind` CLI is the fake one below, serving the embedded cluster's kubeconfig."""

    def access_objects(self, namespace: str) -> list[dict[str, Any]]:
        return _sim_served(super().access_objects(namespace))

    def agent_token(self, namespace: str) -> str:
        return SIM_TOKEN


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    """The embedded cluster, accepting the token the TokenRequest double issues (its API requires a token)."""
    with SimCluster(token=SIM_TOKEN) as cluster:
        yield cluster


@pytest.fixture
def sim_backed_kubeconfig() -> type[SimBackedKubeconfig]:
    return SimBackedKubeconfig


@pytest.fixture
def sim_backed_kind() -> type[SimBackedKind]:
    return SimBackedKind


@pytest.fixture
def sim_backend(sim: SimCluster, tmp_path: Path) -> Iterator[SimBackedKubeconfig]:
    backend = SimBackedKubeconfig(kubeconfig=sim.kubeconfig, poll_s=0.0, workdir=tmp_path / "work")
    backend.start()
    yield backend
    backend.close()


FAKE_KIND = '''#!{python}
"""A stand-in for the kind CLI: clusters are names in a JSON file; every cluster is the embedded one."""
import json, os, sys
from pathlib import Path
state = Path(os.environ["FAKE_KIND_STATE"])
data = json.loads(state.read_text()) if state.exists() else {{"clusters": [], "calls": []}}
args = sys.argv[1:]
data["calls"].append(args)
name = args[args.index("--name") + 1] if "--name" in args else ""
if args[:2] == ["get", "clusters"]:
    print("\\n".join(data["clusters"]) if data["clusters"] else "", end="")
    if not data["clusters"]:
        print("No kind clusters found.", file=sys.stderr)
elif args[:2] == ["create", "cluster"]:
    if name in data["clusters"]:
        print(f"ERROR: node(s) already exist for a cluster with the name \\"{{name}}\\"", file=sys.stderr)
        sys.exit(1)
    data["clusters"].append(name)
elif args[:2] == ["get", "kubeconfig"]:
    print(Path(os.environ["FAKE_KIND_KUBECONFIG"]).read_text())
elif args[:2] == ["delete", "cluster"]:
    data["clusters"] = [c for c in data["clusters"] if c != name]
elif args[:2] == ["load", "docker-image"]:
    pass
else:
    print("unexpected: " + " ".join(args), file=sys.stderr)
    sys.exit(2)
state.write_text(json.dumps(data))
'''


class FakeKind:
    """The fake kind CLI's folder (put first on PATH) and its state: which clusters exist, which calls were made."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.state = folder / "state.json"
        self.binary = folder / "kind"
        self.binary.write_text(FAKE_KIND.format(python=sys.executable))
        self.binary.chmod(self.binary.stat().st_mode | stat.S_IXUSR)

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.state.read_text()) if self.state.exists() else {"clusters": [], "calls": []}

    @property
    def clusters(self) -> list[str]:
        return self.data["clusters"]

    def calls(self, verb: str) -> list[list[str]]:
        return [c for c in self.data["calls"] if " ".join(c).startswith(verb)]

    def add_cluster(self, name: str) -> None:
        data = self.data
        data["clusters"].append(name)
        self.state.write_text(json.dumps(data))


class FakeImages:
    """Docker's image store as the kind backend sees it: present images, and the pulls asked for."""

    def __init__(self, present: bool = True) -> None:
        self.present = present
        self.pulled: list[tuple[str, str]] = []

    def get(self, name: str) -> object:
        if not self.present and name not in {f"{r}:{t}" for r, t in self.pulled}:
            import docker.errors

            raise docker.errors.ImageNotFound(name)
        return object()

    def pull(self, repository: str, tag: str | None = None) -> object:
        self.pulled.append((repository, str(tag)))
        return object()


class FakeDocker:
    """A docker SDK client whose engine is 'up' (the backend only asks it for images)."""

    def __init__(self, present: bool = True) -> None:
        self.images = FakeImages(present)


@pytest.fixture
def fake_docker() -> type[FakeDocker]:
    return FakeDocker


@pytest.fixture
def fake_kind(tmp_path: Path, sim: SimCluster, monkeypatch: pytest.MonkeyPatch) -> FakeKind:
    folder = tmp_path / "fake-kind"
    folder.mkdir()
    monkeypatch.setenv("FAKE_KIND_STATE", str(folder / "state.json"))
    monkeypatch.setenv("FAKE_KIND_KUBECONFIG", str(sim.kubeconfig))
    return FakeKind(folder)


@pytest.fixture
def kind(fake_kind: FakeKind, tmp_path: Path) -> Iterator[Any]:
    """A factory of kind backends wired to the fake CLI, the docker double and a private owner-record folder."""
    made: list[SimBackedKind] = []

    def make(**options: Any) -> SimBackedKind:
        options.setdefault("docker_client", FakeDocker())
        made.append(SimBackedKind(kind_binary=str(fake_kind.binary), records=tmp_path / "records", poll_s=0.0,
                                  **options))
        return made[-1]
    yield make
    for backend in made:  # while the fake CLI's environment is still set
        backend.close()
