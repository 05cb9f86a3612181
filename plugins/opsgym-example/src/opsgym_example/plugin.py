"""The plugin module named by this package's ``opsgym`` entry point: three hooks, nothing else.

Keep plugin modules cheap to import: opsgym imports every plugin when it loads, so anything heavy belongs inside the
factories, which run only when someone uses what they make.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsgym import hookimpl

TASKS = Path(__file__).parent / "tasks"


class SurveyAgent:
    """Looks around once with each read-only tool it knows, then gives up politely.

    Useful as a template for a real agent: it shows the whole Agent protocol and never sends a malformed action.
    """

    def reset(self, *, seed: int | None = None, env: Any = None, ledger: Any = None) -> None:
        verbs = {t.verb for t in env.unwrapped.tools} if env is not None else set()
        plan = ["help"]
        if "kubectl" in verbs:
            plan += ["kubectl get pods -A", "kubectl get events -A"]
        if "diff" in verbs:
            plan += ["find test", "diff"]
        self._plan = plan

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if self._plan:
            return self._plan.pop(0)
        return 'submit {"diagnosis": "unknown", "root_cause": "unknown", "remediation": "escalate to a human"}'


class CRLFPerturbation:
    """Drift seen when tools move to Windows hosts: observations arrive with CRLF line endings."""

    name = "example-crlf"

    def reset(self, seed: int) -> None:
        pass

    def observation(self, text: str) -> str:
        return text.replace("\r\n", "\n").replace("\n", "\r\n")

    def scenario(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return objects


@hookimpl
def register_agents(register):
    register("example-survey", SurveyAgent)


@hookimpl
def register_perturbations(register):
    register("example-crlf", CRLFPerturbation)


@hookimpl
def register_tasks(register):
    register(TASKS / "Example-SWE-1")
    register(TASKS / "Example-SRE-1")
