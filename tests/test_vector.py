"""gymnasium.vector: opsgym envs batch in worker processes, with the default shared memory, and finish with metrics."""

from __future__ import annotations

import copy
import string

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

import opsgym  # noqa: F401  (registers opsgym/* ids)
from opsgym import spaces

pytestmark = pytest.mark.timeout(300)


def test_text_in_shared_memory_reads_back_what_each_worker_wrote():
    space = spaces.Text(max_length=64, min_length=0, charset=string.printable)
    memory = create_shared_memory(space, n=3)
    batch = read_from_shared_memory(space, memory, n=3)
    values = ["kubectl get pods -n shop", "", "x" * 80]
    for index, value in enumerate(values):
        write_to_shared_memory(space, index, value, memory)
    assert copy.deepcopy(batch) == ("kubectl get pods -n shop", "", "x" * 64)  # truncated to max_length
    write_to_shared_memory(space, 1, "later\nline 2\ttab", memory)
    assert batch[1] == "later\nline 2\ttab"  # a live view: later writes are seen, unlike gymnasium's own reader
    assert isinstance(copy.deepcopy(batch), tuple) and batch[0:2] == ("kubectl get pods -n shop", "later\nline 2\ttab")


def test_make_vec_async_plays_sre_1_to_the_end_in_every_env():
    envs = gym.make_vec("opsgym/SRE-1", num_envs=2, vectorization_mode="async")
    try:
        observations, infos = envs.reset(seed=[0, 1])
        assert isinstance(observations, tuple) and len(observations) == 2
        assert all("CrashLoopBackOff" in o or "crash" in o.lower() for o in observations)
        plans = [list(p) for p in envs.call("oracle_solution")]
        assert plans[0] != plans[1] or observations[0] != observations[1]  # each env has its own seed's world
        finished: dict[int, dict] = {}
        for _ in range(max(len(p) for p in plans)):
            actions = tuple(plan.pop(0) if plan else "help" for plan in plans)
            observations, rewards, terminated, truncated, infos = envs.step(actions)
            for i in np.flatnonzero(terminated | truncated):
                if i not in finished:
                    finished[i] = {"reward": float(rewards[i]), "task": infos["outcome"]["task_id"][i],
                                   "efficacy": float(infos["metrics"]["TaskEfficacy"][i])}
            if len(finished) == 2:
                break
        assert sorted(finished) == [0, 1]
        for result in finished.values():
            assert result["task"] == "SRE-1"
            assert result["reward"] == pytest.approx(result["efficacy"])  # the scored reward reached the batch
    finally:
        envs.close()


def test_make_vec_with_a_step_limit_scores_every_truncated_episode():
    envs = gym.make_vec("opsgym/SRE-1", num_envs=2, vectorization_mode="sync", max_episode_steps=3)
    try:
        envs.reset(seed=[0, 1])
        for _ in range(3):
            _, _, terminated, truncated, infos = envs.step(("help", "help"))
        assert truncated.all() and not terminated.any()
        assert list(infos["outcome"]["steps"]) == [3, 3]
        assert infos["_metrics"].all() and len(infos["metrics"]["TaskEfficacy"]) == 2
    finally:
        envs.close()
