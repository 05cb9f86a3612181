"""Helpers shared by the SRE scenario tests: the tasks, the oracle's kubectl actions, playing and reading results."""

from __future__ import annotations

import string

from opsgym.scenario import Evaluation
from opsgym.sre.scenario import SREScenario
from opsgym.tasks import envs_root, load_task

__all__ = ["TASKS", "failed", "play", "solution"]

TASKS = {task.id: task for task in map(load_task, sorted(envs_root().glob("sre-[0-9]*")))}
"""The first three tasks, whose engine behaviour these tests pin down (the whole catalog: tests/sre/test_catalog.py)."""


def solution(task_id: str, variables: dict) -> list[str]:
    """The oracle's kubectl actions for this seed (without the final submit)."""
    actions = [string.Template(a).safe_substitute(variables) for a in TASKS[task_id].solution]
    return [a for a in actions if a.startswith("kubectl")]


def play(scenario: SREScenario, actions: list[str]) -> list[str]:
    return [scenario.execute(a).observation for a in actions]


def failed(evaluation: Evaluation) -> set[str]:
    return {c.name for c in evaluation.checks if not c.passed}
