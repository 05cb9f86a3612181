"""Episode records as one flat table: a row per episode, the shape reports, comparisons and exports share.

Columns: the spec (env, task, agent label, LLM, perturbation, seed …), how the episode ended (status, error kind),
outcome facts (steps, fixed, interventions, times), LLM telemetry sums (``llm.*``), and every metric flattened
(``metrics.TaskEfficacy``, ``metrics.inputs.latency_s`` …). Scores are the numeric top-level metrics. An episode the
agent crashed scores 0 on every score (the crash is the agent's); infrastructure failures have no scores at all,
because they say nothing about the agent.
"""

from __future__ import annotations

from typing import Any

from opsgym.record import EpisodeRecord
from opsgym.scoring.scorer import METRIC_NAMES

__all__ = ["GROUP", "episodes_frame", "flatten", "score_columns"]

GROUP = ["env_id", "agent", "perturbation"]
"""The cell a report row describes: env × agent configuration (agent, options, LLM) × perturbation."""
_NOT_SCORES = {"metrics.version", "metrics.reward", "metrics.scoring_s"}


def flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"prefix.a.b": 1}``; lists are kept whole."""
    if isinstance(value, dict):
        for key, item in value.items():
            flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value
    return out


def _row(record: EpisodeRecord) -> dict[str, Any]:
    spec, outcome = record.spec, record.outcome
    row: dict[str, Any] = {
        "episode_key": spec.episode_key, "run_id": spec.run_id, "env_id": spec.env_id, "task_id": spec.task_id,
        "task_version": spec.task_version, "agent": spec.label, "agent_name": spec.agent, "llm": spec.llm or "",
        "perturbation": spec.perturbation or "none", "seed": spec.seed, "repeat": spec.repeat,
        "status": record.status, "attempt": record.attempt,
        "error_kind": record.error.kind if record.error else "",
        "error_type": record.error.type if record.error else "",
        "error_message": record.error.message[:500] if record.error else "",
        "reward": record.reward if record.status != "infra_failure" else None,
        "steps": len(record.steps), "duration_s": record.duration_s, "reset_s": record.reset_s,
        "agent_s": sum(s.agent_s for s in record.steps), "env_s": sum(s.env_s for s in record.steps),
        "terminated": record.terminated, "truncated": record.truncated,
        "profile": outcome.profile if outcome else "", "domain": outcome.domain if outcome else "",
        "fixed": outcome.remediation_correct if outcome else (0.0 if record.status == "agent_failure" else None),
        "submitted": outcome.submitted if outcome else False,
        "interventions": outcome.interventions if outcome else None,
        "sim_time_s": outcome.sim_time_s if outcome else None,
        "started_at": record.started_at, "worker": record.worker, "executor": spec.executor,
    }
    # sums and rates are numbers; anything else in a (foreign) record's summary is unknown, not text to add up
    flatten({k: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None
             for k, v in record.llm_summary.items() if not isinstance(v, (list, dict))}, "llm", row)
    flatten(record.metrics, "metrics", row)
    return row


def score_columns(frame: Any) -> list[str]:
    """The unified metrics present (``metrics.TaskEfficacy`` …, in the seed's order); for an env scored some other
    way, its top-level numeric metrics — never the nested raw inputs."""
    import pandas as pd

    known = [f"metrics.{name}" for name in METRIC_NAMES if f"metrics.{name}" in frame.columns]
    if known:
        return known
    return [c for c in frame.columns if c.startswith("metrics.") and c.count(".") == 1 and c not in _NOT_SCORES
            and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]


def episodes_frame(records: list[EpisodeRecord]) -> Any:
    """A pandas DataFrame with one row per record (see the module docstring for the columns)."""
    import pandas as pd

    frame = pd.DataFrame([_row(r) for r in records])
    if frame.empty:
        return frame
    crashed = frame["status"] == "agent_failure"
    for column in [*score_columns(frame), "reward"]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
        frame.loc[crashed, column] = 0.0
    return frame
