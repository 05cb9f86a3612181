"""Tasks as data: the ``task.yaml`` model, the loader for ``envs/``, and Gymnasium registration.

A task folder holds ``task.yaml`` plus whatever the task's domain needs (manifests and service programs for SRE, a
repository snapshot and patches for SWE). The common fields live in :class:`TaskSpec`; the domain part is validated by
the domain's own model (:class:`opsgym.sre.spec.SRESpec`, :class:`opsgym.swe.spec.SWESpec`). A broken file fails with
the file, the field and the reason.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from opsgym.errors import TaskSpecError
from opsgym.sre.spec import SRESpec
from opsgym.swe.spec import SWESpec

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


class Budgets(BaseModel):
    """Per-task budgets that turn raw efficiency inputs into [0, 1] scores (see opsgym.scoring)."""

    model_config = ConfigDict(extra="forbid")
    time_to_solution_s: float = Field(300.0, gt=0)
    memory_mb: float = Field(4096.0, gt=0)
    throughput_eps_per_min: float = Field(1.0, gt=0)
    inference_cost_usd: float = Field(0.10, gt=0)
    infra_cost_usd: float = Field(0.05, gt=0)
    error_cost_usd: float = Field(1.0, gt=0)


class TaskSpec(BaseModel):
    """One task of the catalog (``envs/<folder>/task.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", description="becomes the Gymnasium id opsgym/<id>")
    version: str = "1"
    domain: Literal["sre", "swe"]
    title: str
    description: str = ""
    backends: list[str] = Field(default_factory=lambda: ["sim"], description="cluster/sandbox backends it runs on")
    max_steps: int = Field(30, ge=1, le=10_000)
    profile: str = "sre"
    profile_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)
    max_interventions: int = Field(3, ge=1)
    hints: list[str] = Field(default_factory=list)
    budgets: Budgets = Field(default_factory=Budgets)
    ground_truth: GroundTruth = Field(default_factory=GroundTruth)
    solution: list[str] = Field(default_factory=list, description="oracle actions; may use ${variables}")
    suites: list[str] = Field(default_factory=list, description="suite ids this task belongs to, e.g. SWE-Lite")
    sre: SRESpec | None = None
    swe: SWESpec | None = None
    path: Path | None = Field(None, exclude=True, description="the task folder (set by the loader)")

    @model_validator(mode="after")
    def _domain_section(self) -> TaskSpec:
        if getattr(self, self.domain) is None:
            raise ValueError(f"domain is {self.domain!r} but the {self.domain!r} section is missing")
        return self

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


def _format_validation(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid task file"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  field {field}: {err['msg']}")
    return "\n".join(lines)


@functools.cache
def _load_cached(path: Path, mtime: float) -> TaskSpec:
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        raise TaskSpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TaskSpecError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as exc:
        raise TaskSpecError(_format_validation(path, exc)) from None
    spec.path = path.parent
    if spec.swe is not None:  # an empty solution becomes the gold patch as agent actions (opsgym.swe.catalog)
        from opsgym.swe.catalog import fill_oracle_solution

        fill_oracle_solution(spec)
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

    from opsgym import plugins

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
