"""The ``sre:`` section of a task.yaml: which app, which fault, what varies per seed, what the end state must show.

A task is data. The app (real manifests + service programs) lives in a shared folder such as ``envs/_apps/shop``;
the fault and the noise are patches to those manifests; a seed picks one of the task's ``cases`` (which service is
faulty, which key, which bad value …), a namespace, replica counts and some noise. Strings may use ``${variables}``:
the case's keys, ``namespace``, ``replicas`` and the task's own ``variables``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["FieldCheck", "NoiseSpec", "PatchOp", "Repairable", "ReplicaSpec", "SRESpec"]


class PatchOp(BaseModel):
    """Set or remove fields of one rendered object.

    Paths are dotted, with ``[name=x]`` to pick a list item by name, ``[0]`` by index and ``["a.b"]`` for keys that
    contain dots: ``spec.template.spec.containers[name=cart].env[name=KV_ADDR].value``.
    """

    model_config = ConfigDict(extra="forbid")
    kind: str
    name: str
    set: dict[str, Any] = Field(default_factory=dict, description="path → new value (missing parents are created)")
    remove: list[str] = Field(default_factory=list, description="paths to delete")

    @model_validator(mode="after")
    def _does_something(self) -> PatchOp:
        if not self.set and not self.remove:
            raise ValueError("a patch needs `set` or `remove`")
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


class FieldCheck(BaseModel):
    """A task-specific end-state check on one field of a live object (beside the built-in health checks)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str
    object: str
    path: str
    not_equal: Any = Field(None, description="the field must no longer hold this value (e.g. the injected bad value)")
    min_quantity: str | None = Field(None, description="the field is a quantity at least this large")
    max_quantity: str | None = Field(None, description="the field is a quantity at most this large")
    detail: str = ""


class Repairable(BaseModel):
    """Fields of one object that a fix may change (or remove); the rest of the faulty workload must stay as loaded.

    The fault lives in these fields, so "as loaded" elsewhere means "as it was before the fault". Only ``Deployment``
    (its pod template), ``ConfigMap`` and ``Secret`` (their data) are compared.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["Deployment", "ConfigMap", "Secret"]
    name: str
    paths: list[str] = Field(min_length=1, description="paths as in fault patches, e.g. data.${key}")


class ReplicaSpec(BaseModel):
    """Replica counts drawn per seed."""

    model_config = ConfigDict(extra="forbid")
    faulty: list[int] = Field(default_factory=lambda: [2, 3])
    others: list[int] = Field(default_factory=lambda: [1, 2])
    fixed: dict[str, int] = Field(default_factory=dict, description="services that always run this many")


class SRESpec(BaseModel):
    """Where the app's manifests live, which fault to inject, what varies per seed, and how to check the end state."""

    model_config = ConfigDict(extra="forbid")
    app: str = Field(description="folder (relative to the task folder) with manifests/ and programs/")
    alert: str = Field(description="the alert text the agent sees first; may use ${variables}")
    namespaces: list[str] = Field(min_length=1, description="a seed picks the namespace from these")
    cases: list[dict[str, Any]] = Field(min_length=1, description="a seed picks one; its keys become variables")
    variables: dict[str, list[Any]] = Field(default_factory=dict, description="more per-seed choices")
    replicas: ReplicaSpec = Field(default_factory=ReplicaSpec)
    fault: list[PatchOp] = Field(min_length=1)
    noise: list[NoiseSpec] = Field(default_factory=list)
    checks: list[FieldCheck] = Field(default_factory=list)
    repairable: list[Repairable] = Field(
        min_length=1, description="what a fix may change: the faulty Deployment's pod template and the ConfigMaps and "
                                  "Secrets it reads must otherwise stay as loaded")
    settle_s: float = Field(300.0, gt=0, description="how long the end state may take to become healthy")
    stable_s: float = Field(120.0, gt=0, description="how long it must then stay healthy without restarts")
    ready_timeout_s: float = Field(600.0, gt=0, description="how long a backend may take to show the fault "
                                                              "(real clusters pull images and back off for real)")
    incident_age_s: float = Field(
        600.0, ge=0,
        description="on virtual-time backends, how long the fault has been crash-looping when the alert fires "
                    "(real alerts wait ~10 min); real clusters show the fault as soon as it is observable")

    @model_validator(mode="after")
    def _cases_name_the_service(self) -> SRESpec:
        for index, case in enumerate(self.cases):
            if not isinstance(case.get("service"), str):
                raise ValueError(f"cases[{index}] needs a `service` (the faulty workload's name)")
        return self
