"""Rendering an SRE episode: the app's manifests, the seed's choices, the noise and the fault, as plain objects.

The output is what any backend loads — the embedded cluster and kind alike — so everything a seed varies is in the
objects themselves: the namespace, replica counts, harmless noise and the fault. The service programs and the
runtime module they import are packed into one ConfigMap (mounted at ``/app`` by every Deployment).
"""

from __future__ import annotations

import copy
import functools
import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsgym.errors import TaskSpecError
from opsgym.runtime import runtime_source
from opsgym.sre.paths import remove_path, set_path
from opsgym.sre.spec import NoiseSpec, PatchOp
from opsgym.tasks import YAML_LOADER, TaskSpec

__all__ = ["App", "Episode", "Request", "load_app", "plan", "substitute"]

ADDRESS_SUFFIX = "_ADDR"


@dataclass(frozen=True)
class Request:
    """The app's end-to-end request: ``GET path`` on ``service:port``, which should reach every service."""

    service: str
    port: int
    path: str


@dataclass(frozen=True)
class App:
    """A multi-service app: its manifests, programs and who calls whom."""

    name: str
    folder: Path
    objects: tuple[dict[str, Any], ...]
    programs_configmap: str
    images: tuple[str, ...]
    services: tuple[str, ...]
    dependencies: dict[str, frozenset[str]]
    noise: tuple[NoiseSpec, ...] = ()
    request: Request | None = None

    def programs(self) -> dict[str, str]:
        """ConfigMap data: every program plus the runtime module, keyed by file name."""
        data = {p.name: p.read_text(encoding="utf-8") for p in sorted((self.folder / "programs").glob("*.py"))}
        data["opsgym_runtime.py"] = runtime_source()
        return data


def _dependencies(objects: tuple[dict[str, Any], ...], services: set[str]) -> dict[str, frozenset[str]]:
    """Service → services its containers call, read from ``*_ADDR`` env values (``host:port``)."""
    deps: dict[str, frozenset[str]] = {}
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        hosts = {
            str(env.get("value", "")).rpartition(":")[0].split(".")[0]
            for container in obj["spec"]["template"]["spec"].get("containers", [])
            for env in container.get("env", [])
            if env.get("name", "").endswith(ADDRESS_SUFFIX)
        }
        deps[obj["metadata"]["name"]] = frozenset(hosts & services)
    return deps


@functools.cache
def load_app(folder: Path) -> App:
    """Read ``app.yaml``, ``manifests/*.yaml`` and ``programs/`` of an app folder (cached per folder)."""
    meta_file = folder / "app.yaml"
    if not meta_file.is_file():
        raise TaskSpecError(f"{folder}: an app folder needs app.yaml (name, programs_configmap, images)")
    try:
        meta = yaml.load(meta_file.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        noise = tuple(NoiseSpec.model_validate(n) for n in meta.get("noise", []))
        request = Request(**meta["request"]) if meta.get("request") else None
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        raise TaskSpecError(f"{meta_file}: invalid app file: {exc}") from None
    objects: list[dict[str, Any]] = []
    for path in sorted((folder / "manifests").glob("*.yaml")):
        try:
            objects += [doc for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) if doc]
        except yaml.YAMLError as exc:
            raise TaskSpecError(f"{path}: not valid YAML: {exc}") from None
    frozen = tuple(objects)
    from opsgym.cluster.sim.images import register_catalog
    register_catalog(folder / "images.yaml")
    services = {o["metadata"]["name"] for o in frozen if o.get("kind") == "Deployment"}
    return App(name=str(meta.get("name", folder.name)), folder=folder, objects=frozen,
               programs_configmap=str(meta.get("programs_configmap", f"{folder.name}-programs")),
               images=tuple(meta.get("images", ())), services=tuple(sorted(services)),
               dependencies=_dependencies(frozen, services), noise=noise, request=request)


def substitute(value: Any, variables: dict[str, Any]) -> Any:
    """Fill ``${variables}`` in strings, lists and mappings; ``"${x}"`` alone keeps x's type (e.g. an int)."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}") and value[2:-1] in variables:
            return variables[value[2:-1]]
        try:
            return string.Template(value).substitute(variables)
        except (KeyError, ValueError) as exc:
            raise TaskSpecError(f"cannot fill {value!r}: unknown or malformed variable {exc}") from None
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    return value


def _apply(objects: list[dict[str, Any]], op: PatchOp, variables: dict[str, Any]) -> None:
    kind, name = op.kind, substitute(op.name, variables)
    matches = [o for o in objects if o.get("kind") == kind and o["metadata"].get("name") == name]
    if not matches:
        raise TaskSpecError(f"patch targets {kind} {name!r}, which the app does not define")
    for path, value in op.set.items():
        set_path(matches[0], substitute(path, variables), substitute(value, variables))
    for path in op.remove:
        remove_path(matches[0], substitute(path, variables))


@dataclass
class Episode:
    """One seed's choices; :meth:`objects` renders them (only when the backend needs the objects)."""

    task: TaskSpec
    app: App
    variables: dict[str, Any]
    replicas: dict[str, int]
    noise: list[tuple[PatchOp, dict[str, Any]]] = field(default_factory=list)
    noise_names: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return str(self.variables["namespace"])

    @property
    def service(self) -> str:
        return str(self.variables["service"])

    def objects(self) -> list[dict[str, Any]]:
        """Namespace first, then the app with this seed's replicas, noise and fault."""
        objects = [copy.deepcopy(o) for o in self.app.objects]
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": self.app.programs_configmap, "labels": {"app.kubernetes.io/part-of":
                                                                                     self.app.name}},
                        "data": self.app.programs()})
        for obj in objects:
            if obj["kind"] == "Deployment":
                obj["spec"]["replicas"] = self.replicas[obj["metadata"]["name"]]
        for op, scope in self.noise:
            _apply(objects, op, scope)
        for op in self.task.sre.fault:
            _apply(objects, op, self.variables)
        for obj in objects:
            obj["metadata"]["namespace"] = self.namespace
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        return [namespace, *objects]


def plan(task: TaskSpec, seed: int) -> Episode:
    """Draw the seed's case, namespace, replicas and noise (cheap: no object is rendered yet)."""
    spec = task.sre
    if spec is None or task.path is None:
        raise TaskSpecError(f"task {task.id} is not an SRE task loaded from a folder")
    app = load_app((task.path / spec.app).resolve())
    rng = random.Random(f"{task.id}/{task.version}/{seed}")
    case = rng.choice(spec.cases)
    variables: dict[str, Any] = {"namespace": rng.choice(spec.namespaces)}
    variables.update({name: rng.choice(choices) for name, choices in sorted(spec.variables.items())})
    variables.update(case)
    faulty = variables["service"]
    if faulty not in app.services:
        raise TaskSpecError(f"task {task.id}: case service {faulty!r} is not a Deployment of app {app.name!r}")
    replicas = {}
    for service in app.services:
        choices = spec.replicas.faulty if service == faulty else spec.replicas.others
        replicas[service] = spec.replicas.fixed.get(service, rng.choice(choices))
    variables["replicas"] = replicas[faulty]
    episode = Episode(task=task, app=app, variables=variables, replicas=replicas)
    for noise in (*app.noise, *spec.noise):
        if rng.random() >= noise.probability:
            continue
        candidates = sorted(s for s in (noise.among or app.services) if s != faulty
                            and not (noise.independent and faulty in app.dependencies.get(s, ())))
        if not candidates:
            continue
        scope = {**variables, "target": rng.choice(candidates), "value": rng.choice(noise.values)}
        episode.noise += [(op, scope) for op in noise.patch]
        episode.noise_names.append(f"{noise.name}:{scope['target']}")
    return episode
