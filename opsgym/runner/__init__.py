"""Evaluation at scale: episodes × seeds × perturbations × agents × LLM configs, in parallel, resumable.

The pieces, in the order a run uses them: :mod:`~opsgym.runner.plan` (the matrix, names checked before anything
starts), :mod:`~opsgym.runner.run` (the loop that skips recorded episodes, dispatches, writes records durably and
retries lost ones), :mod:`~opsgym.runner.executors` / :mod:`~opsgym.runner.ray_executor` (where episodes run),
:mod:`~opsgym.runner.episode` (one episode → one :class:`~opsgym.record.EpisodeRecord`), and
:mod:`~opsgym.runner.progress` (what the terminal shows)::

    from opsgym.runner import AgentSpec, RunPlan, execute
    plan = RunPlan(envs=["opsgym/SRE-*"], seeds=[0, 1, 2], agents=[AgentSpec(name="oracle")])
    result = execute(plan, "runs/demo", parallel=2)
"""

from __future__ import annotations

from opsgym.runner.episode import EpisodeRunner
from opsgym.runner.plan import AgentSpec, RunPlan, parse_agent, parse_seeds, resolve_env_ids
from opsgym.runner.run import RECORDS_FILE, RUN_FILE, RunResult, execute, final_records, load_run

__all__ = [
    "RECORDS_FILE",
    "RUN_FILE",
    "AgentSpec",
    "EpisodeRunner",
    "RunPlan",
    "RunResult",
    "execute",
    "final_records",
    "load_run",
    "parse_agent",
    "parse_seeds",
    "resolve_env_ids",
]
