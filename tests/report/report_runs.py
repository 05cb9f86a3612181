"""Real runs for report tests, made with the runner and its test-double env."""

from __future__ import annotations

from pathlib import Path

from opsgym.runner import AgentSpec, RunPlan, execute


def make_run(path: Path, **env_kwargs) -> Path:
    """Oracle and random on the double, baseline and one perturbation, 4 seeds, fake LLM telemetry."""
    import opsgym_doubles

    plan = RunPlan(envs=[opsgym_doubles.ENV_ID], seeds=[0, 1, 2, 3], perturbations=[None, "noise"],
                   agents=[AgentSpec(name="oracle"), AgentSpec(name="random")],
                   env_kwargs={"llm_tokens": 40, "bad_oracle_seeds": [3]} | env_kwargs)
    execute(plan, path)
    return path
