"""Scoring and record-keeping overhead as a share of episode wall time, for the oracle on SRE-1.

Run: ``.venv/bin/python benchmarks/bench_scoring.py [--episodes 20] [--env opsgym/SRE-1]``. Prints numbers and
ratios measured in this run; asserts nothing. Target (issue 5): scoring + record keeping < 1 % of the episode.

Measured per episode: the wall time of the whole episode with scoring on (reset to the final step), the time the
ScoringWrapper spent turning the outcome into metrics (``last_scoring_s``), and the time to serialise the record as a
runner would write it (outcome + metrics as one JSON line). The same episodes unscored (``scoring=False``) are the
baseline for the end-to-end difference.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import gymnasium as gym

import opsgym  # noqa: F401
from opsgym.agents.base import play_episode
from opsgym.agents.scripted import OracleAgent
from opsgym.scoring import ScoringWrapper


def scoring_wrapper(env: gym.Env) -> ScoringWrapper:
    while not isinstance(env, ScoringWrapper):
        env = env.env
    return env


def episode_walls(env: gym.Env, seeds: list[int], scored: bool) -> tuple[list[float], list[float], list[float], int]:
    """Wall time per episode; when scored also the wrapper's scoring time, the record's serialisation time and how
    many episodes scored TaskEfficacy 1 (a failing oracle would mean the timings are not of real episodes)."""
    walls, scoring, records, solved = [], [], [], 0
    agent = OracleAgent()
    for seed in seeds:
        t0 = time.perf_counter()
        info = play_episode(env, agent, seed=seed).info
        walls.append(time.perf_counter() - t0)
        if scored:
            scoring.append(scoring_wrapper(env).last_scoring_s)
            t1 = time.perf_counter()
            json.dumps({"outcome": info["outcome"], "metrics": info["metrics"]})
            records.append(time.perf_counter() - t1)
            solved += info["metrics"]["TaskEfficacy"] == 1.0
    return walls, scoring, records, solved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--env", default="opsgym/SRE-1")
    args = parser.parse_args()
    seeds = list(range(args.episodes))

    scored_env, plain_env = gym.make(args.env), gym.make(args.env, scoring=False)
    for env in (scored_env, plain_env):  # warm each seed's cached scenario, as a long evaluation would
        for seed in seeds:
            env.reset(seed=seed)
    plain, *_ = episode_walls(plain_env, seeds, scored=False)
    walls, scoring, records, solved = episode_walls(scored_env, seeds, scored=True)
    scored_env.close()
    plain_env.close()

    med = statistics.median
    share_scoring = med(s / w for s, w in zip(scoring, walls, strict=True))
    share_record = med(r / w for r, w in zip(records, walls, strict=True))
    print(f"env {args.env}, oracle, {len(seeds)} episodes ({solved} scored TaskEfficacy 1)")
    print(f"  episode wall, unscored (baseline): median {med(plain) * 1000:9.2f} ms")
    print(f"  episode wall, scored:              median {med(walls) * 1000:9.2f} ms")
    print(f"  scoring (outcome -> metrics):      median {med(scoring) * 1000:9.3f} ms")
    print(f"  record keeping (JSON line):        median {med(records) * 1000:9.3f} ms")
    print(f"  scoring share of the episode:        {share_scoring:.2%}")
    print(f"  record-keeping share of the episode: {share_record:.2%}")
    print(f"  scoring + records share:             {share_scoring + share_record:.2%}   (target < 1 %)")
    print(f"  scored / unscored wall ratio:        {med(walls) / med(plain):.3f}")


if __name__ == "__main__":
    main()
