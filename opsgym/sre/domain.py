"""Built-in plugin: the SRE domain (incidents on a Kubernetes cluster) registered like any plugin's domain."""

from __future__ import annotations

from opsgym.domain import Domain
from opsgym.hookspecs import Register, hookimpl
from opsgym.sre.spec import SRE_MERGED_LISTS, SRESpec

SRE = Domain(
    name="sre", section=SRESpec, scenario="opsgym.sre.scenario:SREScenario", default_backend="sim",
    backend_kind="cluster backend", default_profile="sre", submit_needs_answer=True,
    prepare="opsgym.sre.render:check_variables", merged_lists=SRE_MERGED_LISTS,
)


@hookimpl
def register_domains(register: Register) -> None:
    register(SRE)
