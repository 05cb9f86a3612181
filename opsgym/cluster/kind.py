"""The ``kind`` backend: SRE episodes on a real Kubernetes cluster running in Docker containers on this machine.

``start()`` checks that a Docker engine answers (through the docker SDK) and that the ``kind`` CLI is installed,
then reuses the named cluster or creates it. Each ``load()`` loads the images the episode's pods run into the nodes
(pulled once through Docker, so episodes neither wait on nor depend on a registry), then does what every real
backend does (:mod:`opsgym.cluster.real`): namespace teardown, re-apply, agent identity, wait for the fault.

Clusters are named ``opsgym…`` and each one opsgym creates gets an owner record (``~/.cache/opsgym/kind/``: pid,
keep). ``close()`` — also run at exit and on SIGTERM — deletes a cluster this process created unless ``keep``; a
process killed outright leaves its cluster behind, and :func:`list_leaked_clusters` (``opsgym doctor``) finds it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opsgym.cluster.access import write_kubeconfig
from opsgym.cluster.manifests import images
from opsgym.cluster.real import RealCluster, flag
from opsgym.errors import BackendUnavailableError, InfrastructureError, UnsafeClusterError

__all__ = ["KIND_INSTALL", "NAME_PREFIX", "KindCluster", "KindClusterInfo", "docker_engine", "kind_binary",
           "list_leaked_clusters", "state_dir", "unavailable_reason"]

NAME_PREFIX = "opsgym"
KIND_LABEL = "io.x-k8s.kind.cluster"
"""The label kind puts on every node container: its cluster's name."""
KIND_INSTALL = ("install the kind CLI (https://kind.sigs.k8s.io/docs/user/quick-start/#installation): "
                "`go install sigs.k8s.io/kind@v0.27.0`, or download the release binary for your platform "
                "(e.g. https://kind.sigs.k8s.io/dl/v0.27.0/kind-linux-amd64) onto your PATH as `kind`, "
                "or pass kind_binary=PATH")

_lock = threading.Lock()
_holders: dict[str, int] = {}
"""Cluster name → KindCluster instances of this process using it (several envs can share one cluster)."""
_created: set[str] = set()
"""Clusters this process created (or adopted from a dead owner), so the last holder deletes them."""


def state_dir() -> Path:
    """Where owner records live: ``$OPSGYM_CACHE/kind`` or ``~/.cache/opsgym/kind``."""
    return Path(os.environ.get("OPSGYM_CACHE") or Path.home() / ".cache" / "opsgym") / "kind"


def docker_engine(timeout_s: float = 5.0) -> Any:
    """A docker SDK client whose engine answered a ping; raises BackendUnavailableError saying how to get one."""
    try:
        import docker
    except ImportError:
        raise BackendUnavailableError("the kind backend needs the docker SDK: `pip install 'opsgym[kind]'`") from None
    try:
        client = docker.from_env(timeout=int(max(1, timeout_s)))
        client.ping()
    except Exception as exc:  # DockerException, requests' ConnectionError, a missing socket …
        raise BackendUnavailableError(
            f"no Docker engine answers ({type(exc).__name__}: {exc}); the kind backend runs Kubernetes in Docker. "
            "Start Docker (e.g. `sudo systemctl start docker` or Docker Desktop), check DOCKER_HOST, "
            "or use --backend sim") from None
    return client


def kind_binary(binary: str | None = None) -> str:
    """The ``kind`` executable; raises BackendUnavailableError with install instructions when it is missing."""
    found = shutil.which(binary or "kind")
    if found is None:
        raise BackendUnavailableError(f"kind is not installed ({binary or 'kind'!r} is not on PATH): {KIND_INSTALL}")
    return found


def unavailable_reason() -> str:
    """Why the kind backend cannot run on this machine (``""`` when it can), for ``opsgym doctor``."""
    try:
        docker_engine()
        kind_binary()
    except BackendUnavailableError as exc:
        return str(exc)
    return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_record(folder: Path, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class KindClusterInfo:
    """An opsgym kind cluster found on this machine's Docker engine, and whether anybody still owns it."""

    name: str
    status: str
    """``in use`` (its creator is running), ``kept`` (created with keep=True), ``leaked`` (creator exited without
    deleting it) or ``unowned`` (no owner record: made by hand or the record was lost)."""
    detail: str

    @property
    def leaked(self) -> bool:
        return self.status == "leaked"


def list_leaked_clusters(client: Any = None, records: Path | None = None) -> list[KindClusterInfo]:
    """Every ``opsgym…`` kind cluster with its ownership status (``opsgym doctor`` reports the leaked ones).

    Reads node containers through the Docker engine (no kind CLI needed). Raises BackendUnavailableError when no
    engine answers — then there is nothing that can have leaked either.
    """
    client = client if client is not None else docker_engine()
    records = records or state_dir()
    names = sorted({c.labels.get(KIND_LABEL, "") for c in client.containers.list(
        all=True, filters={"label": KIND_LABEL})} - {""})
    found = []
    for name in (n for n in names if n.startswith(NAME_PREFIX)):
        record = _read_record(records, name)
        delete = f"`kind delete cluster --name {name}`"
        if record is None:
            found.append(KindClusterInfo(name, "unowned", f"no owner record; delete it with {delete} if unused"))
        elif _pid_alive(int(record.get("pid", 0))):
            found.append(KindClusterInfo(name, "in use", f"held by process {record.get('pid')}"))
        elif record.get("keep"):
            found.append(KindClusterInfo(name, "kept", f"kept for reuse (keep=True); {delete} removes it"))
        else:
            found.append(KindClusterInfo(name, "leaked", f"its creator (process {record.get('pid')}) exited without "
                                                         f"deleting it; run {delete}"))
    return found


class KindCluster(RealCluster):
    """A kind cluster holding one episode's namespace at a time.

    Args:
        name: the cluster's name (``opsgym-`` is prepended unless it starts with ``opsgym``).
        reuse: use the cluster if it already exists (otherwise that is an error, so two runs never share by accident).
        keep: leave a cluster this process created running after ``close()``, for later runs to reuse.
        node_image: kind node image (``kindest/node:v1.32.2`` …); kind's default when omitted.
        kind_binary: path to ``kind`` when it is not on PATH.
        create_timeout_s: limit for ``kind create cluster``.
        records: owner-record folder (default :func:`state_dir`).
        docker_client: a docker SDK client to use (default: from the environment, see :func:`docker_engine`).
        **options: see :class:`opsgym.cluster.real.RealCluster` (``token_ttl_s``, ``poll_s`` …).
    """

    name = "kind"
    cluster_read = True

    def __init__(self, *, name: str = NAME_PREFIX, reuse: bool | str = True, keep: bool | str = False,
                 node_image: str | None = None, kind_binary: str | None = None, create_timeout_s: float = 600.0,
                 records: str | Path | None = None, docker_client: Any = None, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.cluster_name = name if name.startswith(NAME_PREFIX) else f"{NAME_PREFIX}-{name}"
        self.reuse, self.keep = flag(reuse), flag(keep)
        self.node_image, self.binary, self.create_timeout_s = node_image, kind_binary, float(create_timeout_s)
        self.records = Path(records) if records else state_dir()
        self.created_now = False
        self.create_s = 0.0
        """Seconds ``kind create cluster`` took in :meth:`start` (0 when an existing cluster was reused)."""
        self._docker: Any = docker_client
        self._kind = ""
        self._holding = False
        self._loaded: set[str] = set()

    def _run(self, *args: str, timeout_s: float = 120.0) -> str:
        try:
            done = subprocess.run([self._kind, *args], capture_output=True, text=True, timeout=timeout_s,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise InfrastructureError(f"`kind {' '.join(args)}` did not finish within {timeout_s:g} s") from None
        if done.returncode != 0:
            raise InfrastructureError(f"`kind {' '.join(args)}` failed ({done.returncode}): "
                                      f"{(done.stderr or done.stdout).strip()[-2000:]}")
        return done.stdout

    def _write_record(self) -> None:
        self.records.mkdir(parents=True, exist_ok=True)
        record = {"pid": os.getpid(), "keep": self.keep, "created_at": time.time()}
        (self.records / f"{self.cluster_name}.json").write_text(json.dumps(record), encoding="utf-8")

    def _open(self) -> tuple[Path, str | None]:
        self._docker = self._docker if self._docker is not None else docker_engine()
        self._kind = kind_binary(self.binary)
        existing = self._run("get", "clusters").split()
        name = self.cluster_name
        with _lock:
            if name in existing:
                if not self.reuse and not _holders.get(name):
                    raise UnsafeClusterError(f"kind cluster {name!r} already exists; pass reuse=True to run in it, "
                                             f"or delete it with `kind delete cluster --name {name}`")
                record = _read_record(self.records, name)
                if record is not None and not record.get("keep") and not _pid_alive(int(record.get("pid", 0))):
                    _created.add(name)  # adopt a leaked cluster: this process now cleans it up
                    self._write_record()
            else:
                self._write_record()  # before creating: a crash mid-create still leaves a record for doctor
                _created.add(name)
                args = ["create", "cluster", "--name", name, "--wait", "120s", "--kubeconfig",
                        str(self.workdir / "kind-create.kubeconfig")]
                t0 = time.monotonic()
                try:
                    self._run(*args, *(["--image", self.node_image] if self.node_image else []),
                              timeout_s=self.create_timeout_s)
                except InfrastructureError:
                    _created.discard(name)
                    subprocess.run([self._kind, "delete", "cluster", "--name", name], capture_output=True,
                                   timeout=300, stdin=subprocess.DEVNULL)
                    (self.records / f"{name}.json").unlink(missing_ok=True)
                    raise
                self.create_s, self.created_now = time.monotonic() - t0, True
            _holders[name] = _holders.get(name, 0) + 1
            self._holding = True
        admin = self.workdir / "admin.kubeconfig"
        write_kubeconfig(admin, yaml.safe_load(self._run("get", "kubeconfig", "--name", name)))
        return admin, None

    def _prepare(self, objects: list[dict[str, Any]]) -> None:
        """Make every image the pods run present on the nodes (pull through Docker once, then ``kind load``)."""
        for image in images(objects):
            if image in self._loaded:
                continue
            self._local_image(image)
            try:
                self._run("load", "docker-image", image, "--name", self.cluster_name, timeout_s=600.0)
            except InfrastructureError as exc:  # e.g. multi-arch images on some engines: the node pulls it itself
                warnings.warn(f"kind could not load {image} into {self.cluster_name} ({exc}); the nodes will pull "
                              "it themselves", stacklevel=2)
            self._loaded.add(image)

    def _local_image(self, image: str) -> None:
        import docker.errors
        from docker.utils import parse_repository_tag

        try:
            self._docker.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        repository, tag = parse_repository_tag(image)
        try:
            self._docker.images.pull(repository, tag=tag or "latest")
        except docker.errors.DockerException as exc:
            raise BackendUnavailableError(f"cannot pull image {image} ({exc}); the task's app lists it under "
                                          "`images` in app.yaml — pull it with `docker pull` where a registry is "
                                          "reachable") from None

    def _stop(self) -> None:
        if not self._holding:
            return
        name = self.cluster_name
        with _lock:
            self._holding = False
            _holders[name] = _holders.get(name, 1) - 1
            if _holders[name] > 0 or name not in _created:
                return
            del _holders[name]
            _created.discard(name)
        if self.keep:
            self._write_record()
            return
        self._run("delete", "cluster", "--name", name, timeout_s=300.0)
        (self.records / f"{name}.json").unlink(missing_ok=True)
