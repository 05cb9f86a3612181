"""The ``sre:`` section of a task.yaml: which app, which fault, what varies per seed, what the end state must show.

A task is data. The app (real manifests + service programs) lives in a shared folder such as ``envs/_apps/shop``
(``app: opsgym:shop`` names a built-in app); a task may add objects to it (``objects``). The fault and the noise are
operations on the rendered app (patch, create or delete an object); a seed picks one of the task's ``cases`` (which
service is faulty, which key, which bad value …), a namespace, replica counts and some noise. Strings may use
``${variables}``: the case's keys, ``namespace``, ``replicas`` and the task's own ``variables``. Fault types live in
the library ``envs/_faults/<family>/`` as partial task files that a task ``uses:`` (see ``envs/README.md``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["SRE_MERGED_LISTS", "FieldCheck", "GateState", "NoiseSpec", "Observe", "PatchOp", "Repairable",
           "ReplicaSpec", "SRESpec"]


class PatchOp(BaseModel):
    """One operation on the rendered objects: set or remove fields of one object, create one, or delete one.

    Paths are dotted, with ``[name=x]`` to pick a list item by name, ``[0]`` by index and ``["a.b"]`` for keys that
    contain dots: ``spec.template.spec.containers[name=cart].env[name=KV_ADDR].value``.
    """

    model_config = ConfigDict(extra="forbid")
    kind: str = ""
    name: str = ""
    set: dict[str, Any] = Field(default_factory=dict, description="path → new value (missing parents are created)")
    remove: list[str] = Field(default_factory=list, description="paths to delete")
    create: dict[str, Any] | None = Field(None, description="a whole manifest to add (its namespace is set for you)")
    delete: bool = Field(False, description="remove the object named by kind and name")

    @model_validator(mode="after")
    def _does_one_thing(self) -> PatchOp:
        chosen = [what for what, on in (("set/remove", self.set or self.remove), ("create", self.create is not None),
                                        ("delete", self.delete)) if on]
        if len(chosen) != 1:
            raise ValueError("an operation needs exactly one of `set`/`remove`, `create` or `delete: true`"
                             + (f" (got {' and '.join(chosen)})" if chosen else ""))
        if self.create is None and not (self.kind and self.name):
            raise ValueError("a patch or delete names its object: `kind` and `name`")
        if self.create is not None and not (isinstance(self.create.get("kind"), str) and
                                            isinstance((self.create.get("metadata") or {}).get("name"), str)):
            raise ValueError("`create` needs a manifest with kind and metadata.name")
        return self


class NoiseSpec(BaseModel):
    """A harmless change applied to some seeds, so that episodes differ beyond the fault."""

    model_config = ConfigDict(extra="forbid")
    name: str
    probability: float = Field(1.0, ge=0.0, le=1.0, description="chance that a seed gets this noise")
    among: list[str] = Field(default_factory=list, description="services ${target} is drawn from (empty: all)")
    independent: bool = Field(False, description="only services that do not call the faulty service")
    values: list[Any] = Field(default_factory=lambda: [""], description="${value} is drawn from these")
    patch: list[PatchOp] = Field(default_factory=list)


def _served(kind: str) -> str:
    from opsgym.k8s.kinds import kind_named

    try:
        kind_named(kind)
    except KeyError:
        raise ValueError(f"{kind!r} is not a kind opsgym serves (spell it as in manifests: Deployment, "
                         "ConfigMap, NetworkPolicy …)") from None
    return kind


class FieldCheck(BaseModel):
    """A task-specific end-state check on one field of a live object (beside the built-in health checks).

    Every condition given must hold; ``exists: false`` passes when the object or the field is gone.
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str
    object: str
    path: str = ""
    equals: Any = Field(None, description="the field holds exactly this value")
    not_equal: Any = Field(None, description="the field must no longer hold this value (e.g. the injected bad value)")
    any_of: list[Any] | None = Field(None, description="the field holds one of these values")
    exists: bool | None = Field(None, description="the field (or, with no path, the object) exists / is gone")
    non_empty: bool = Field(False, description="the field is set to something other than '', [] or {}")
    min_items: int | None = Field(None, ge=0, description="the list or mapping at path has at least this many items")
    max_items: int | None = Field(None, ge=0, description="… at most this many")
    min_quantity: str | None = Field(None, description="the field is a quantity at least this large")
    max_quantity: str | None = Field(None, description="the field is a quantity at most this large")
    after_reset: bool = Field(False, description="the field is a timestamp later than the agent's first step "
                                                 "(e.g. a CronJob's status.lastSuccessfulTime: a run succeeded since)")
    detail: str = ""

    @field_validator("kind")
    @classmethod
    def _kind_served(cls, kind: str) -> str:
        return _served(kind)


class Repairable(BaseModel):
    """Fields of one object that a valid fix may change (or remove); everything else must stay as in the pristine app.

    The safety baseline is the app *before* the fault, so a task lists every field that any valid fix touches (the
    container's port *and* the Service's targetPort, when pointing either at the other is a fix). A path that ends at a
    list or mapping covers everything under it.
    """

    model_config = ConfigDict(extra="forbid")
    kind: str
    name: str
    paths: list[str] = Field(min_length=1, description="paths as in fault patches, e.g. data.${key}")

    @field_validator("kind")
    @classmethod
    def _kind_served(cls, kind: str) -> str:
        return _served(kind)


GateState = Literal["crashloop", "image-pull", "config-error", "pending", "not-ready", "no-endpoints",
                    "rollout-stalled", "job-failed", "degraded", "healthy"]


class Observe(BaseModel):
    """What reset waits for before the agent starts: one workload in one observable state.

    ``crashloop``: every pod restarted and one waits in CrashLoopBackOff; ``image-pull``: pods wait in ErrImagePull
    or ImagePullBackOff; ``config-error``: pods wait in CreateContainerConfigError; ``pending``: a pod is Pending and
    unscheduled, or fewer pods exist than wanted (a quota or LimitRange refuses them); ``not-ready``: pods run but
    some are not Ready; ``no-endpoints``: its Service has no ready address; ``rollout-stalled``: its newest
    ReplicaSet's pods are not all available; ``job-failed``: a Job (the workload, or one its CronJob owns) failed;
    ``degraded``: the app's end-to-end request fails; ``healthy``: all is well (controls, and faults only the end
    state shows).
    """

    model_config = ConfigDict(extra="forbid")
    workload: str = Field("${service}", description="a Deployment of the app (for job-failed: a CronJob or Job)")
    state: GateState


class ReplicaSpec(BaseModel):
    """Replica counts drawn per seed."""

    model_config = ConfigDict(extra="forbid")
    faulty: list[int] = Field(default_factory=lambda: [2, 3])
    others: list[int] = Field(default_factory=lambda: [1, 2])
    fixed: dict[str, int] = Field(default_factory=dict, description="services that always run this many")


class SRESpec(BaseModel):
    """Where the app's manifests live, which fault to inject, what varies per seed, and how to check the end state."""

    model_config = ConfigDict(extra="forbid")
    app: str = Field(description="folder (relative to the task folder) with manifests/ and programs/, or "
                                 "opsgym:NAME for a built-in app (envs/_apps/NAME)")
    family: str = Field("", description="fault family (configuration, images, probes, networking …) for catalogs")
    alert: str = Field(description="the alert text the agent sees first; may use ${variables}")
    namespaces: list[str] = Field(min_length=1, description="a seed picks the namespace from these")
    cases: list[dict[str, Any]] = Field(min_length=1, description="a seed picks one; its keys become variables")
    variables: dict[str, list[Any]] = Field(default_factory=dict, description="more per-seed choices")
    replicas: ReplicaSpec = Field(default_factory=ReplicaSpec)
    objects: list[dict[str, Any]] = Field(default_factory=list,
                                          description="manifests this task adds to the pristine app")
    setup: list[PatchOp] = Field(default_factory=list, description="changes to the app's objects that belong to "
                                                                     "the pristine app in this task (before noise)")
    traffic: dict[str, float] = Field(default_factory=dict, description="Service → requests/s of outside load "
                                                                          "(the simulator's load model; sim only)")
    fault: list[PatchOp] = Field(default_factory=list, description="what breaks, applied after the noise")
    rollout: bool = Field(False, description="the fault arrives as a later rollout over a healthy revision 1")
    observe: list[Observe] = Field(default_factory=lambda: [Observe(state="crashloop")],
                                   description="the states reset waits for")
    affected: list[str] = Field(default_factory=list,
                                description="other Deployments the fault takes down (reset does not wait for them)")
    noise: list[NoiseSpec] = Field(default_factory=list)
    app_noise: bool | list[str] = Field(True, description="the app's own noise entries this task uses (names)")
    checks: list[FieldCheck] = Field(default_factory=list)
    repairable: list[Repairable] = Field(
        default_factory=list, description="what a valid fix may change; the faulty workload, the objects it reads, "
                                          "its Service and every object named here must otherwise stay pristine")
    request: Literal["collateral", "remediation"] = Field(
        "collateral", description="whether the app's end-to-end request must answer for the repair to count")
    control: bool = Field(False, description="a no-fault control: nothing is wrong and nothing may change")
    settle_s: float = Field(300.0, gt=0, description="how long the end state may take to become healthy")
    stable_s: float = Field(120.0, gt=0, description="how long it must then stay healthy without restarts")
    ready_timeout_s: float = Field(600.0, gt=0, description="how long a backend may take to show the fault "
                                                              "(real clusters pull images and back off for real)")
    incident_age_s: float = Field(
        600.0, ge=0,
        description="on virtual-time backends, how long the fault has been observable when the alert fires "
                    "(real alerts wait ~10 min); real clusters show the fault as soon as it is observable")

    @model_validator(mode="after")
    def _coherent(self) -> SRESpec:
        for index, case in enumerate(self.cases):
            if not isinstance(case.get("service"), str):
                raise ValueError(f"cases[{index}] needs a `service` (the faulty workload's name)")
        if self.control and self.fault:
            raise ValueError("a no-fault control (`control: true`) has no `fault`")
        if not self.control and not (self.fault and self.repairable):
            raise ValueError("a task needs a `fault` and the `repairable` fields a fix may change "
                             "(or `control: true` for a no-fault control)")
        return self


SRE_MERGED_LISTS = tuple(f"sre.{key}" for key in ("fault", "objects", "setup", "repairable", "checks", "noise",
                                                  "observe", "affected"))
"""The lists that used fault files (and the task) add up, so faults compose (:func:`opsgym.tasks.merge_documents`)."""
