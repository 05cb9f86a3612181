"""Tasks as data: the ``task.yaml`` model, the loader for ``envs/``, and Gymnasium registration.

A task folder holds ``task.yaml`` plus whatever the task's domain needs (manifests and service programs for SRE, a
repository snapshot and patches for SWE). The common fields live in :class:`TaskSpec`; the section named after the
domain is validated by the model of the registered :class:`~opsgym.domain.Domain` (hook ``register_domains``), so
this module names no domain. A broken file fails with the file, the field and the reason.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from opsgym import plugins
from opsgym.domain import Domain, get_domain
from opsgym.errors import TaskSpecError

__all__ = [
    "YAML_LOADER",
    "Budgets",
    "GroundTruth",
    "RootCause",
    "TaskSpec",
    "envs_root",
    "load_task",
    "register_gym_ids",
]

GYM_NAMESPACE = "opsgym"
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML has it: task files and app manifests are parsed in every new process (each
runner worker), where the pure-Python loader took ~0.2 s of start-up."""


class RootCause(BaseModel):
    """The object and field at fault, for structured matching of an agent's answer."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    name: str
    field: str = ""
    namespace: str = ""


class GroundTruth(BaseModel):
    """What a correct answer says. Strings may use the scenario's ``${variables}``."""

    model_config = ConfigDict(extra="forbid")
    diagnosis: str = ""
    diagnosis_keywords: list[list[str]] = Field(
        default_factory=list, description="any-of groups: the diagnosis matches when every group has a hit"
    )
    root_cause: RootCause | None = None
    root_cause_keywords: list[list[str]] = Field(default_factory=list)
    remediation: str = ""
    chain: list[str] = Field(
        default_factory=list, description="multi-hop incidents: the propagation chain, alerting service first and "
                                          "root cause last (scored beside RootCauseCorrect)")


class Budgets(BaseModel):
    """Per-task budgets that turn raw efficiency inputs into [0, 1] scores (see opsgym.scoring)."""

    model_config = ConfigDict(extra="forbid")
    time_to_solution_s: float = Field(default=300.0, gt=0)
    memory_mb: float = Field(default=4096.0, gt=0)
    throughput_eps_per_min: float = Field(default=1.0, gt=0)
    inference_cost_usd: float = Field(default=0.10, gt=0)
    infra_cost_usd: float = Field(default=0.05, gt=0)
    error_cost_usd: float = Field(default=1.0, gt=0)


def _registered_domains() -> dict[str, Domain]:
    return {name: entry.factory for name, entry in plugins.entries("domain").items()}


def _listing(names: list[str]) -> str:
    quoted = [repr(n) for n in sorted(names)]
    return " or ".join(quoted) if len(quoted) < 3 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _shift(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[InitErrorDetails]:
    """A nested model's errors as line errors of the task file, their location under ``prefix``."""
    return [InitErrorDetails(type=PydanticCustomError(e["type"], e["msg"]), loc=(*prefix, *e["loc"]),
                             input=e["input"]) for e in exc.errors()]


class TaskSpec(BaseModel):
    """One task of the catalog (``envs/<folder>/task.yaml``).

    Its domain's section (``sre:``, ``swe:``, a plugin's own) is kept as a validated model and read as
    ``spec.<domain>`` (e.g. ``spec.swe``) or, without naming the domain, :attr:`section`.
    """

    # "allow" only so the one domain section lands in the model's extras; _validate refuses every other unknown key
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", description="becomes the Gymnasium id opsgym/<id>")
    version: str = "1"
    domain: str = Field(description="a registered domain; its section (named after it) is required")
    title: str
    description: str = ""
    backends: list[str] = Field(default_factory=list, description="backends it runs on [the domain's default]")
    max_steps: int = Field(30, ge=1, le=10_000)
    profile: str = Field("", description="scoring profile [the domain's default]")
    profile_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)
    max_interventions: int = Field(3, ge=1)
    hints: list[str] = Field(default_factory=list)
    budgets: Budgets = Field(default_factory=lambda: Budgets())
    ground_truth: GroundTruth = Field(default_factory=GroundTruth)
    solution: list[str] = Field(default_factory=list, description="oracle actions; may use ${variables}")
    suites: list[str] = Field(default_factory=list, description="suite ids this task belongs to, e.g. SWE-Lite")
    difficulty: Literal["easy", "medium", "hard"] = Field(
        "medium", description="hard: multi-hop, two faults or red herrings (reports stratify by it)")
    path: Path | None = Field(None, exclude=True, description="the task folder (set by the loader)")

    if TYPE_CHECKING:  # a domain's section: spec.sre, spec.swe, spec.<plugin domain>
        def __getattr__(self, name: str) -> Any: ...

    @model_validator(mode="wrap")
    @classmethod
    def _validate(cls, data: Any, handler: ModelWrapValidatorHandler[TaskSpec]) -> TaskSpec:
        """Check the common fields and the domain's section together, so one message lists every mistake."""
        if not isinstance(data, dict):
            return handler(data)
        data = dict(data)
        errors: list[InitErrorDetails] = []
        domains = _registered_domains()
        domain = domains.get(data.get("domain")) if isinstance(data.get("domain"), str) else None
        if "domain" in data and domain is None:
            errors.append(InitErrorDetails(type=PydanticCustomError(
                "unknown_domain", "Input should be a registered domain: {known}", {"known": _listing(list(domains))}),
                loc=("domain",), input=data["domain"]))
        section: BaseModel | None = None
        if domain is not None:
            data.setdefault("profile", domain.default_profile)
            data.setdefault("backends", [domain.default_backend])
            if data.get(domain.name) is None:
                missing = f"domain is {domain.name!r} but the {domain.name!r} section is missing"
                errors.append(InitErrorDetails(type=PydanticCustomError("value_error", missing), loc=(), input=data))
            else:
                try:
                    section = domain.section.model_validate(data[domain.name])
                except ValidationError as exc:
                    errors += _shift(exc, (domain.name,))
            data.pop(domain.name, None)
        errors += [InitErrorDetails(type="extra_forbidden", loc=(key,), input=data.pop(key))
                   for key in [k for k in data if k not in cls.model_fields]]
        spec: TaskSpec | None = None
        try:
            spec = handler(data)
        except ValidationError as exc:
            errors = _shift(exc, ()) + errors
        if errors or spec is None:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        if domain is not None and section is not None:
            spec.__pydantic_extra__ = {domain.name: section}
        return spec

    @property
    def section(self) -> BaseModel:
        """The domain's own part of the task (``spec.<domain>``), validated by the domain's model."""
        value: BaseModel = getattr(self, self.domain)
        return value

    @property
    def gym_id(self) -> str:
        return f"{GYM_NAMESPACE}/{self.id}"


def envs_root() -> Path:
    """The shipped catalog: ``opsgym/envs`` inside a wheel, ``<repo>/envs`` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "envs", here.parent / "envs"):
        if candidate.is_dir():
            return candidate
    raise TaskSpecError(f"no task catalog found beside {here} (expected opsgym/envs or ../envs)")


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise TaskSpecError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise TaskSpecError(f"{path}: cannot read: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise TaskSpecError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


def merge_documents(base: dict[str, Any], top: dict[str, Any], *, concat: frozenset[str],
                    where: str = "") -> dict[str, Any]:
    """``top`` merged over ``base``: mappings key by key, the lists named in ``concat`` (dotted, e.g.
    ``sre.fault``) concatenated, everything else replaced by ``top``'s value."""
    out = dict(base)
    for key, value in top.items():
        dotted = f"{where}.{key}" if where else str(key)
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = merge_documents(old, value, concat=concat, where=dotted)
        elif dotted in concat and isinstance(old, list) and isinstance(value, list):
            out[key] = [*old, *value]
        else:
            out[key] = value
    return out


def _with_uses(path: Path, raw: dict[str, Any]) -> tuple[dict[str, Any], list[Path]]:
    """Resolve ``uses:`` (fault library files relative to the task folder, or ``opsgym:<family>/<fault>`` for one of
    the built-in library ``envs/_faults``, as a plugin's task writes it): merged in order, the task on top."""
    uses = raw.pop("uses", None)
    if uses is None:
        return raw, []
    if isinstance(uses, str):
        uses = [uses]
    if not isinstance(uses, list) or not all(isinstance(u, str) for u in uses):
        raise TaskSpecError(f"{path}: `uses` must be a file or a list of files (fault library entries)")
    domain = raw.get("domain")
    known = isinstance(domain, str) and domain in plugins.entries("domain")
    concat = frozenset(get_domain(str(domain)).merged_lists) if known else frozenset()
    merged: dict[str, Any] = {}
    files = []
    for use in uses:
        prefix, _, name = use.partition(":")
        used = envs_root() / "_faults" / f"{name}.yaml" if prefix == "opsgym" and name else \
            (path.parent / use).resolve()
        if not used.is_file():
            raise TaskSpecError(f"{path}: uses {use!r}, but {used} does not exist (an unknown fault type?)")
        merged = merge_documents(merged, _read_mapping(used), concat=concat)
        files.append(used)
    return merge_documents(merged, raw, concat=concat), files


def _located(path: Path, loc: tuple[Any, ...]) -> tuple[int, int]:
    """How much of ``loc`` (a validation error's location) ``path`` writes, and the line where that part is."""
    try:
        node: Any = yaml.compose(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError):
        return 0, 0
    depth, line = 0, 0
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        depth, line = depth + 1, node.start_mark.line + 1
    return depth, line


def _format_located(files: list[Path], exc: ValidationError) -> str:
    """Validation errors with the line each came from: the file that writes most of the field's path (the task
    file, or a library file it uses); a missing field points at its parent."""
    lines = [f"{files[0]}: invalid task file"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        found = [_located(f, tuple(err["loc"])) for f in files]
        best = max(range(len(files)), key=lambda i: (found[i][0], -i))
        depth, line = found[best]
        at = "" if not depth else f" (line {line})" if best == 0 else f" ({files[best].name} line {line})"
        lines.append(f"  field {field}: {err['msg']}{at}")
    return "\n".join(lines)


@functools.cache
def _load_cached(path: Path, mtime: float) -> TaskSpec:
    raw, used = _with_uses(path, _read_mapping(path))
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        raise TaskSpecError(_format_located([path, *used], exc)) from None
    spec.path = path.parent
    get_domain(spec.domain).prepare_task(spec)  # e.g. SWE's oracle from the gold patch
    return spec


def load_task(path: str | Path) -> TaskSpec:
    """Load and validate a task folder (or its ``task.yaml``)."""
    path = Path(path)
    if path.is_dir():
        path = path / "task.yaml"
    if not path.is_file():
        raise TaskSpecError(f"{path}: no such task file (a task folder needs a task.yaml)")
    path = path.resolve()
    return _load_cached(path, path.stat().st_mtime)


def catalog_folders(root: Path | None = None) -> list[Path]:
    """Task folders of the shipped catalog, in a stable order (folders starting with ``_`` hold shared data)."""
    root = root or envs_root()
    return sorted(p for p in root.iterdir() if (p / "task.yaml").is_file() and not p.name.startswith("_"))


def register_gym_ids() -> None:
    """Register ``opsgym/<id>`` for every registered task and every suite (idempotent).

    A suite id (e.g. ``opsgym/SWE-Lite``) makes an env whose each reset picks one of the suite's tasks from the seed.
    ``EnvSpec.max_episode_steps`` is the task's step budget (a suite's largest); the registered
    :class:`opsgym.step_budget.StepBudget` makes OpsEnv end the episode itself at gym.make's limit, so it is scored.
    """
    import gymnasium
    from gymnasium.envs.registration import WrapperSpec

    registry = plugins.entries("task")
    groups = {name: [entry.factory] for name, entry in registry.items()}
    for entry in registry.values():
        for suite in set(entry.factory.suites) - set(registry):
            groups.setdefault(suite, []).append(entry.factory)
    for name, members in groups.items():
        gym_id = f"{GYM_NAMESPACE}/{name}"
        if gym_id in gymnasium.registry:
            continue
        steps = max(task.max_steps for task in members)
        budget = WrapperSpec("StepBudget", "opsgym.step_budget:StepBudget", {"registered_steps": steps})
        gymnasium.register(id=gym_id, entry_point="opsgym.env:make_env", kwargs={"task": name},
                           max_episode_steps=steps, additional_wrappers=(budget,))


def _task_entry(path_or_spec: Any, spec: TaskSpec | None = None) -> tuple[str, TaskSpec]:
    """``register(path)``, ``register(spec)`` or ``register(name, spec)`` in ``register_tasks``: the id is the name."""
    if spec is None:
        spec = path_or_spec if isinstance(path_or_spec, TaskSpec) else load_task(path_or_spec)
    return spec.id, spec


plugins.set_adapter("task", _task_entry)
plugins.on_late_load(register_gym_ids)
