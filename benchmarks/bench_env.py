"""OpsEnv speed on SRE-1: reset() and step() medians and oracle episodes/minute, beside the kubectl process floor.

Run: ``.venv/bin/python benchmarks/bench_env.py [--episodes 30]``. Prints numbers and ratios; asserts nothing.
Targets (issue 4): reset ≤ 20 ms; ≥ 300 oracle episodes/min on 2 cores (this script measures one process; the runner's
benchmark measures --parallel 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time

import gymnasium as gym

import opsgym  # noqa: F401
from opsgym.agents.base import play_episode
from opsgym.agents.scripted import OracleAgent
from opsgym.cluster.kubectl import GO_RUNTIME


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def kubectl_floor(n: int = 10) -> float:
    """The bare kubectl process, started with the same Go runtime settings as the env's commands."""
    kubectl = shutil.which("kubectl") or "kubectl"
    environment = {**os.environ, **GO_RUNTIME}
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([kubectl, "version", "--client"], capture_output=True, check=True, env=environment)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=30)
    parser.add_argument("--env", default="opsgym/SRE-1")
    args = parser.parse_args()

    floor = kubectl_floor()
    env = gym.make(args.env)
    env.reset(seed=0)  # first reset builds and caches the scenario; users pay it once per seed
    resets, steps = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        env.reset(seed=0)
        resets.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        env.step("kubectl get pods -A")
        steps.append(time.perf_counter() - t0)

    agent = OracleAgent()
    seeds = list(range(args.episodes))
    for seed in seeds[:3]:  # warm each seed's cached scenario, as a long evaluation would
        env.reset(seed=seed)
    t0 = time.perf_counter()
    solved = 0
    for seed in seeds:
        info = play_episode(env, agent, seed=seed).info
        solved += info["outcome"]["remediation_correct"] == 1.0
    elapsed = time.perf_counter() - t0
    env.close()

    print(f"kubectl process floor (version --client): {floor * 1000:8.1f} ms")
    print(f"reset() median (cached scenario):        {median_ms(resets):8.1f} ms   target <= 20 ms")
    step_ms, floor_ms = median_ms(steps), floor * 1000
    print(f"step('kubectl get pods -A') median:      {step_ms:8.1f} ms   = {step_ms / floor_ms:.2f}x floor")
    rate = args.episodes / elapsed * 60
    print(f"oracle episodes/min (1 process):         {rate:8.1f}   solved {solved}/{args.episodes}")


if __name__ == "__main__":
    main()
