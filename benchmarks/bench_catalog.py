"""The SRE catalog under the runner: oracle episodes/min over a suite with --parallel 2, against SRE-1 in the same run,
and how many steps each task's oracle takes.

Run: ``.venv/bin/python benchmarks/bench_catalog.py [--suite opsgym/SRE-Lite] [--episodes 60]``. Prints numbers and
ratios measured in this run; asserts nothing. Target (issue 18): ≥ 300 oracle episodes/min over SRE-Lite on 2 cores,
as SRE-1 alone reaches.

Why against SRE-1: the catalog's tasks settle different incidents (a rollout loads twice, an autoscaler waits for its
metrics, a crash loop backs off), so the suite's rate over the single-task rate measured minutes apart on the same
machine says what the breadth costs, independent of how busy the machine is. A suite env picks a task per seed, so
seeds 0..N-1 spread over the suite's tasks; every episode settles a new scenario once (nothing is cached across
seeds), which is the cost a user's first run pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import opsgym  # noqa: F401  (registers opsgym/* ids)
from opsgym.record import read_records
from opsgym.runner import AgentSpec, RunPlan, execute


def run(env_id: str, seeds: list[int], root: Path) -> tuple[float, list]:
    """Wall time of a --parallel 2 oracle run (worker start-up included) and its records."""
    out = root / env_id.replace("/", "_")
    t0 = time.perf_counter()
    result = execute(RunPlan(envs=[env_id], seeds=seeds, agents=[AgentSpec(name="oracle")]), out, parallel=2)
    wall = time.perf_counter() - t0
    assert len(result.records) == len(seeds), "every episode must be recorded"
    return wall, read_records(out / "records.jsonl").records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suite", default="opsgym/SRE-Lite")
    parser.add_argument("--episodes", type=int, default=60)
    args = parser.parse_args()
    seeds = list(range(args.episodes))
    print(f"{args.suite} vs opsgym/SRE-1, oracle, {args.episodes} episodes each, --parallel 2, "
          f"{os.cpu_count()} CPUs visible")
    with tempfile.TemporaryDirectory() as tmp:
        base_wall, _ = run("opsgym/SRE-1", seeds, Path(tmp))
        wall, records = run(args.suite, seeds, Path(tmp))
    rate, base = 60 * len(seeds) / wall, 60 * len(seeds) / base_wall
    print(f"SRE-1 alone            : {base:7.1f} episodes/min")
    print(f"{args.suite:<23}: {rate:7.1f} episodes/min  ({rate / base:4.2f}x SRE-1; target >= 300 on 2 cores)")
    solved = sum(1 for r in records if r.reward >= 1.0)
    print(f"oracle solved          : {solved}/{len(records)}")
    steps: dict[str, list[int]] = defaultdict(list)
    for record in records:
        steps[record.spec.task_id or record.spec.env_id].append(len(record.steps))
    counts = [n for ns in steps.values() for n in ns]
    print(f"steps per episode      : median {statistics.median(counts):.0f}, min {min(counts)}, max {max(counts)} "
          f"over {len(steps)} tasks")
    for task, ns in sorted(steps.items()):
        print(f"  {task:<16} {min(ns):3d}–{max(ns):<3d} steps over {len(ns)} episodes")


if __name__ == "__main__":
    main()
