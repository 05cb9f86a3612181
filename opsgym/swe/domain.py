"""Built-in plugin: the SWE domain (repository tasks in a sandbox) registered like any plugin's domain."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgym.domain import Domain
from opsgym.hookspecs import Register, hookimpl
from opsgym.swe.spec import SWESpec

if TYPE_CHECKING:
    from opsgym.swe.sandbox import Sandbox

SWE = Domain(
    name="swe", section=SWESpec, scenario="opsgym.swe.scenario:SWEScenario", default_backend="bwrap",
    backend_kind="sandbox backend", default_profile="swe", submit_needs_answer=False,
    prepare="opsgym.swe.catalog:fill_oracle_solution",  # an empty solution becomes the gold patch as actions
)


@hookimpl
def register_domains(register: Register) -> None:
    register(SWE)


def _bwrap(**options: Any) -> Sandbox:
    from opsgym.swe.sandbox import Sandbox

    return Sandbox("bwrap", **options)


def _unsafe_local(**options: Any) -> Sandbox:
    from opsgym.swe.sandbox import Sandbox

    return Sandbox("unsafe-local", **options)


@hookimpl
def register_sandbox_backends(register: Register) -> None:
    register("bwrap", _bwrap)
    register("unsafe-local", _unsafe_local)
