"""What the task catalog holds, by fault family and difficulty (``opsgym task catalog``; the README's catalog table).

The README's table is this module's output (a test compares them), so the counts a user reads are the tasks that
load, not a number someone typed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from opsgym import plugins
from opsgym.tasks import TaskSpec

__all__ = ["TIERS", "Family", "families", "markdown"]

TIERS = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Family:
    """One fault family of a domain: its tasks (ids in order) and how many of each difficulty."""

    domain: str
    name: str
    ids: tuple[str, ...]
    tiers: dict[str, int]
    symptom_alerts: int
    """Tasks whose alert does not name the root-cause object (the alert names what is seen, not what is broken)."""


def _symptom_alert(task: TaskSpec) -> bool:
    """The alert text names neither the root cause's kind-and-name nor its field (checked on the raw template)."""
    section = task.section
    root = task.ground_truth.root_cause
    alert = str(getattr(section, "alert", "")).lower()
    if root is None:
        return True
    field = root.field.split(".")[-1].split("[")[0].lower()
    return not ((root.kind.lower() in alert and root.name.lower() in alert) or (field and field in alert))


def families(domain: str = "sre") -> list[Family]:
    """The registered tasks of ``domain`` grouped by family (``sre.family``; unnamed: "other"), in name order."""
    grouped: dict[str, list[TaskSpec]] = defaultdict(list)
    for entry in plugins.entries("task").values():
        task: TaskSpec = entry.factory
        if task.domain == domain:
            grouped[str(getattr(task.section, "family", "") or "other")].append(task)
    out = []
    for name, tasks in sorted(grouped.items()):
        tasks.sort(key=lambda t: t.id)
        tiers = Counter(str(t.difficulty) for t in tasks)
        out.append(Family(domain, name, tuple(t.id for t in tasks), {tier: tiers[tier] for tier in TIERS},
                          sum(_symptom_alert(t) for t in tasks)))
    return out


def markdown(domain: str = "sre") -> str:
    """The catalog table as the README shows it."""
    rows = families(domain)
    lines = ["| family | tasks | easy / medium / hard | alerts naming no broken object | ids |",
             "|---|---|---|---|---|"]
    for family in rows:
        tiers = " / ".join(str(family.tiers[t]) for t in TIERS)
        lines.append(f"| {family.name} | {len(family.ids)} | {tiers} | {family.symptom_alerts} | "
                     f"{', '.join(family.ids)} |")
    total = sum(len(f.ids) for f in rows)
    tiers = " / ".join(str(sum(f.tiers[t] for f in rows)) for t in TIERS)
    lines.append(f"| **all** | **{total}** | {tiers} | {sum(f.symptom_alerts for f in rows)} | |")
    return "\n".join(lines)
