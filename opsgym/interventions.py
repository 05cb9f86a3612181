"""What a human says when the agent asks for help: graded help, never the task's answer.

``hint``, ``ask`` and ``escalate`` count as human interventions (OpEff), and their text comes from the task's hints.
A hint that carried the answer would turn an intervention into a way to score without doing the work, so the env
serves only hints that pass :func:`leaks`: none may contain the ground truth's remediation text or a step of the
reference solution that changes something (a ``kubectl patch``/``set`` line, an ``edit``'s new code). The check runs on
every hint as served, with the episode's variables filled in, so a third-party task's careless hint is held back too.

``escalate`` hands the incident to a human: it ends the episode (see :class:`~opsgym.env.OpsEnv`), so its text is only
an acknowledgement and never advice the agent could still act on.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from opsgym.cluster import kubectl
from opsgym.tasks import TaskSpec

__all__ = ["ESCALATED", "answer_fragments", "leaks", "served_hints"]

ESCALATED = ("Escalated: the incident is now with the on-call engineer and the episode is over. You are credited "
             "with what you fixed and with the reason you gave.")

_SPACE = re.compile(r"\s+")
_EDIT_BLOCK = re.compile(r"^<<<<<<< SEARCH\n(.*?)^=======\n(.*?)^>>>>>>> REPLACE$", re.S | re.M)  # opsgym.swe.tools
_MIN_FRAGMENT = 8  # shorter pieces ("}", "return x") are too common to mean the answer


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def _changes_something(step: str) -> bool:
    """Whether a reference-solution step mutates the world (reads and the final ``submit`` do not).

    A kubectl step is classified by the agent's own kubectl front-end, so this agrees with how the env and the
    scoring read the same command; anything it cannot parse counts as a change (a hint must not carry it either).
    """
    words = step.split()
    if not words or words[0] in ("submit", "open", "search", "find", "diff", "run_tests"):
        return False
    if words[0] == "kubectl":
        try:
            return kubectl.parse(step).cls != "read"
        except kubectl.Rejected:
            return True
    return True


def _new_code(step: str) -> list[str]:
    """The lines a file-writing step adds: an ``edit``'s REPLACE halves (a SEARCH half is code the agent can already
    read), or every line after the command line of a line-range ``edit`` or a ``create``."""
    if not _EDIT_BLOCK.search(step):
        return step.splitlines()[1:]
    lines = []
    for search, replace in _EDIT_BLOCK.findall(step):
        old = {_norm(line) for line in search.splitlines()}
        lines += [line for line in replace.splitlines() if _norm(line) not in old]
    return lines


def answer_fragments(task: TaskSpec, variables: Mapping[str, Any]) -> list[str]:
    """The pieces of text that would give this episode's answer away, normalised (lower case, single spaces)."""
    fill = string.Template
    pieces = [fill(task.ground_truth.remediation).safe_substitute(variables)]
    for step in task.solution:
        step = fill(step).safe_substitute(variables)
        if not _changes_something(step):
            continue
        pieces += _new_code(step) if step.split(maxsplit=1)[0] in ("edit", "create") else [step]
    return [p for p in (_norm(piece) for piece in pieces) if len(p) >= _MIN_FRAGMENT]


def leaks(text: str, fragments: list[str]) -> bool:
    """Whether ``text`` contains any answer fragment (compared normalised, so spacing and case do not hide it)."""
    haystack = _norm(text)
    return any(fragment in haystack for fragment in fragments)


def served_hints(task: TaskSpec, variables: Mapping[str, Any]) -> list[str]:
    """The task's hints with the episode's variables filled in, leaving out any hint that leaks the answer."""
    fragments = answer_fragments(task, variables)
    hints = [string.Template(h).safe_substitute(variables) for h in task.hints]
    return [h for h in hints if not leaks(h, fragments)]
