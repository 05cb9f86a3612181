"""Runner throughput and overhead: oracle episodes/minute on SRE-1 with --parallel 1 vs 2, and its cost per episode.

Run: ``.venv/bin/python benchmarks/bench_runner.py [--episodes 60] [--env opsgym/SRE-1]``. Prints numbers and ratios
measured in this run; asserts nothing. Target (issue 8): --parallel 2 ≥ 1.8× --parallel 1 on 2 cores.

Measured, all on the same episodes (seeds 0..N-1):
  * bare loop   — gym.make once, then reset + oracle act/step to the end, in this process: the floor.
  * parallel 1  — ``execute(..., parallel=1)``: the same loop plus records (build, JSON, fsync) and progress.
  * parallel 2  — ``execute(..., parallel=2)``: two spawned worker processes, each with its own env, wall time
    including worker start-up (what a user waits for), and the steady-state rate after the first episode per worker.
Runner overhead per episode, from the --parallel 1 run itself (so machine load between runs does not leak in):
(run wall time − Σ time inside env.reset, agent.act and env.step) / N — the records, JSON, fsync, progress and
dispatch, plus the first env build spread over N.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import opsgym  # noqa: F401  (registers opsgym/* ids)
from opsgym.agents.scripted import OracleAgent
from opsgym.record import read_records
from opsgym.runner import AgentSpec, RunPlan, execute


def bare_loop(env_id: str, seeds: list[int]) -> float:
    env, agent = gym.make(env_id), OracleAgent()
    env.reset(seed=seeds[0])  # build the world once, as a warm runner worker has
    t0 = time.perf_counter()
    for seed in seeds:
        observation, info = env.reset(seed=seed)
        agent.reset(seed=seed, env=env, ledger=env.unwrapped.ledger)
        done = False
        while not done:
            observation, _, terminated, truncated, info = env.step(agent.act(observation, info))
            done = terminated or truncated
    elapsed = time.perf_counter() - t0
    env.close()
    return elapsed


def runner(env_id: str, seeds: list[int], parallel: int, root: Path) -> tuple[float, float, float]:
    """Wall time of the whole run, steady-state time after each worker's first episode, time inside env and agent."""
    plan = RunPlan(envs=[env_id], seeds=seeds, agents=[AgentSpec(name="oracle")])
    out = root / f"parallel-{parallel}"
    t0 = time.perf_counter()
    result = execute(plan, out, parallel=parallel)
    wall = time.perf_counter() - t0
    assert len(result.records) == len(seeds), "every episode must be recorded"
    records = sorted(read_records(out / "records.jsonl").records, key=lambda r: r.finished_at)
    warm = records[parallel:]
    steady = (warm[-1].finished_at - records[parallel - 1].finished_at) if warm else float("nan")
    inside = sum(r.reset_s + sum(s.agent_s + s.env_s for s in r.steps) for r in records)
    return wall, steady, inside


def per_min(episodes: int, seconds: float) -> float:
    return 60.0 * episodes / seconds if seconds > 0 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=60,
                        help="seeds 0..N-1; the whole-run rates include ~1 s of worker start-up")
    parser.add_argument("--env", default="opsgym/SRE-1")
    args = parser.parse_args()
    seeds = list(range(args.episodes))
    print(f"{args.env}, oracle, {args.episodes} episodes, {os.cpu_count()} CPUs visible")

    bare = bare_loop(args.env, seeds)
    with tempfile.TemporaryDirectory() as tmp:
        wall1, steady1, inside1 = runner(args.env, seeds, 1, Path(tmp))
        wall2, steady2, _ = runner(args.env, seeds, 2, Path(tmp))
    n = args.episodes
    print(f"bare loop (floor, warm env)  : {per_min(n, bare):8.1f} episodes/min  ({bare / n * 1000:7.1f} ms/episode)")
    print(f"--parallel 1 (whole run)     : {per_min(n, wall1):8.1f} episodes/min  ({wall1 / n * 1000:7.1f} ms/episode)")
    print(f"--parallel 2 (whole run)     : {per_min(n, wall2):8.1f} episodes/min  ({wall2 / n * 1000:7.1f} ms/episode)")
    print(f"--parallel 1 (steady state)  : {per_min(n - 1, steady1):8.1f} episodes/min")
    print(f"--parallel 2 (steady state)  : {per_min(n - 2, steady2):8.1f} episodes/min")
    steady_ratio = per_min(n - 2, steady2) / per_min(n - 1, steady1)
    print(f"speed-up parallel 2 / 1      : {wall1 / wall2:5.2f}x whole run, {steady_ratio:5.2f}x steady state "
          "(target >= 1.8x on 2 cores)")
    overhead = (wall1 - inside1) / n
    print(f"runner overhead per episode  : {overhead * 1000:7.1f} ms ({overhead / (inside1 / n) * 100:5.1f} % of the "
          "time in env and agent; includes the first env build spread over the run)")


if __name__ == "__main__":
    main()
