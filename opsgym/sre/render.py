"""Rendering an SRE episode: the app's manifests, the seed's choices, the noise and the fault, as plain objects.

The output is what any backend loads — the embedded cluster and kind alike — so everything a seed varies is in the
objects themselves: the namespace, replica counts, harmless noise and the fault. The service programs and the
runtime module they import are packed into one ConfigMap (mounted at ``/app`` by every Deployment).
"""

from __future__ import annotations

import copy
import functools
import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsgym.errors import TaskSpecError
from opsgym.runtime import runtime_source
from opsgym.sre.paths import remove_path, set_path
from opsgym.sre.spec import NoiseSpec, PatchOp
from opsgym.tasks import YAML_LOADER, TaskSpec, envs_root

__all__ = ["App", "Episode", "Request", "app_folder", "check_variables", "load_app", "plan", "substitute"]

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
    if op.create is not None:
        objects.append(substitute(copy.deepcopy(op.create), variables))
        return
    kind, name = op.kind, substitute(op.name, variables)
    matches = [o for o in objects if o.get("kind") == kind and o["metadata"].get("name") == name]
    if not matches:
        raise TaskSpecError(f"an operation targets {kind} {name!r}, which the app does not define")
    if op.delete:
        objects.remove(matches[0])
        return
    for path, value in op.set.items():
        set_path(matches[0], substitute(path, variables), substitute(value, variables))
    for path in op.remove:
        remove_path(matches[0], substitute(path, variables))


def app_folder(task: TaskSpec) -> Path:
    """The task's app: ``opsgym:NAME`` is a built-in app (``envs/_apps/NAME``), anything else a folder relative to
    the task folder (a plugin ships its own app that way, or reaches a built-in one by name)."""
    spec = task.sre
    if spec is None or task.path is None:
        raise TaskSpecError(f"task {task.id} is not an SRE task loaded from a folder")
    prefix, _, name = spec.app.partition(":")
    if prefix == "opsgym" and name:
        folder = envs_root() / "_apps" / name
        if not folder.is_dir():
            known = sorted(p.name for p in (envs_root() / "_apps").iterdir() if p.is_dir())
            raise TaskSpecError(f"task {task.id}: no built-in app {name!r} (built-in: {', '.join(known)})")
        return folder
    return (task.path / spec.app).resolve()


_VARIABLE = re.compile(r"(?<!\$)\$\{([^}]*)\}")
BUILTIN_VARIABLES = frozenset({"namespace", "replicas", "noise"})
"""Variables every SRE episode defines (noise patches add ``target`` and ``value``)."""


def _strings(value: Any, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key, where)
            yield from _strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{where}[{index}]")


def check_variables(task: TaskSpec) -> None:
    """Every ``${variable}`` a task writes is defined by every case, ``variables`` or the episode itself, so a typo
    fails when the task loads (with the field that uses it) instead of in the middle of an episode."""
    spec = task.sre
    defined = set(BUILTIN_VARIABLES) | set(spec.variables)
    defined |= set.intersection(*(set(case) for case in spec.cases))
    document = {**task.model_dump(include={"title", "description", "hints", "ground_truth", "solution"}),
                "sre": spec.model_dump(exclude={"noise", "cases", "variables"})}
    problems = [f"{where}: ${{{name}}}" for where, text in _strings(document, "")
                for name in _VARIABLE.findall(text) if name not in defined]
    problems += [f"sre.noise.{n.name}: ${{{name}}}" for n in spec.noise for _, text in _strings(n.model_dump(), "")
                 for name in _VARIABLE.findall(text) if name not in defined | {"target", "value"}]
    if problems:
        raise TaskSpecError(f"{task.path / 'task.yaml' if task.path else task.id}: variables never defined (not in "
                            f"every case, nor in `variables`): {'; '.join(problems[:8])}")


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

    def deployments(self) -> list[str]:
        """Names of the pristine app's Deployments (the app's and the task's own), without rendering anything."""
        extra = [o["metadata"]["name"] for o in substitute(self.task.sre.objects, self.variables)
                 if o.get("kind") == "Deployment"]
        return [*self.app.services, *extra]

    def objects(self, *, fault: bool = True) -> list[dict[str, Any]]:
        """Namespace first, then the app (with the task's objects and setup) with this seed's replicas, noise and —
        unless ``fault`` is false: the pristine app, the safety baseline — the fault."""
        objects = [copy.deepcopy(o) for o in self.app.objects]
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": self.app.programs_configmap, "labels": {"app.kubernetes.io/part-of":
                                                                                     self.app.name}},
                        "data": self.app.programs()})
        for obj in objects:
            if obj["kind"] == "Deployment":
                obj["spec"]["replicas"] = self.replicas[obj["metadata"]["name"]]
        objects += substitute(copy.deepcopy(self.task.sre.objects), self.variables)
        for op in self.task.sre.setup:
            _apply(objects, op, self.variables)
        for op, scope in self.noise:
            _apply(objects, op, scope)
        for op in self.task.sre.fault if fault else ():
            _apply(objects, op, self.variables)
        for obj in objects:
            obj.setdefault("metadata", {})["namespace"] = self.namespace
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace}}
        return [namespace, *objects]


def plan(task: TaskSpec, seed: int) -> Episode:
    """Draw the seed's case, namespace, replicas and noise (cheap: no object is rendered yet)."""
    spec = task.sre
    if spec is None or task.path is None:
        raise TaskSpecError(f"task {task.id} is not an SRE task loaded from a folder")
    app = load_app(app_folder(task))
    rng = random.Random(f"{task.id}/{task.version}/{seed}")
    case = rng.choice(spec.cases)
    variables: dict[str, Any] = {"namespace": rng.choice(spec.namespaces)}
    variables.update({name: rng.choice(choices) for name, choices in sorted(spec.variables.items())})
    variables.update(case)
    faulty = variables["service"]
    if faulty not in app.services and not any(o.get("kind") == "Deployment" and o["metadata"]["name"] == faulty
                                              for o in substitute(spec.objects, variables)):
        raise TaskSpecError(f"task {task.id}: case service {faulty!r} is not a Deployment of app {app.name!r}")
    replicas = {}
    for service in app.services:
        choices = spec.replicas.faulty if service == faulty else spec.replicas.others
        replicas[service] = spec.replicas.fixed.get(service, rng.choice(choices))
    variables["replicas"] = replicas[faulty]
    episode = Episode(task=task, app=app, variables=variables, replicas=replicas)
    own = [n for n in app.noise if spec.app_noise is True or (spec.app_noise and n.name in spec.app_noise)]
    for noise in (*own, *spec.noise):
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
