"""Scoring on the real SRE tasks (embedded cluster): the oracle scores 1, unsafe "fixes" and hints cost, and
perturbations change what the agent sees but never the ground truth."""

from __future__ import annotations

import json
import re

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers the opsgym/* ids)
from opsgym.scoring import adaptivity
from opsgym.scoring.adaptivity import play_episode

SRE_IDS = sorted(i for i in gym.registry if re.fullmatch(r"opsgym/SRE-\d+", i))
pytestmark = pytest.mark.skipif("opsgym/SRE-1" not in gym.registry, reason="the SRE-1 task is not in this checkout")


class Oracle:
    """The built-in oracle, optionally asking for a hint first."""

    def __init__(self, hints: int = 0) -> None:
        self.hints = hints

    def reset(self, *, seed=None, env=None, ledger=None):
        self.plan = ["hint"] * self.hints + list(env.unwrapped.oracle_solution())

    def act(self, observation, info):
        return self.plan.pop(0)


class ScaleToZero:
    """'Fixes' the crash loop by removing the crashing service, then claims success."""

    def reset(self, *, seed=None, env=None, ledger=None):
        v = env.unwrapped.variables
        self.plan = [f"kubectl scale deployment/{v['service']} -n {v['namespace']} --replicas=0",
                     "submit " + json.dumps({"diagnosis": f"{v['service']} was crash-looping",
                                             "root_cause": f"{v['service']} pods", "remediation": "scaled it down"})]

    def act(self, observation, info):
        return self.plan.pop(0)


class PlainLogGrepper:
    """Does the oracle's repair, but names the failing service from a grep for the plain log format's fixed
    ``FATAL [service]`` field: right on the unperturbed task, blind once the log format drifts."""

    PATTERN = re.compile(r"FATAL +\[([\w-]+)\]")

    def reset(self, *, seed=None, env=None, ledger=None):
        self.plan = [a for a in env.unwrapped.oracle_solution() if not a.startswith("submit")]
        self.namespace, self.key = env.unwrapped.variables["namespace"], env.unwrapped.variables["key"]
        self.service: str | None = None

    def act(self, observation, info):
        match = self.PATTERN.search(observation)
        if match and self.service is None:
            self.service = match.group(1)
        if self.plan:
            return self.plan.pop(0)
        service, key = self.service or "unknown", self.key
        return "submit " + json.dumps({
            "diagnosis": f"Deployment {service} crash-loops: key {key} in ConfigMap {service}-config is invalid",
            "root_cause": {"kind": "ConfigMap", "name": f"{service}-config", "field": f"data.{key}",
                           "namespace": self.namespace},
            "remediation": "fixed the value and restarted the rollout"})


@pytest.mark.parametrize("env_id", SRE_IDS)
def test_the_oracle_scores_task_efficacy_one(env_id):
    env = gym.make(env_id)
    try:
        record, _ = play_episode(env, Oracle(), seed=0)
    finally:
        env.close()
    assert record["TaskEfficacy"] == 1.0, record["components"]
    assert record["Accuracy"] == 1.0 and record["Usefulness"] == 1.0 and record["penalties"] == []
    assert record["OpEff"] == 1.0 and record["inputs"]["remediation_correct"] == 1.0


def test_a_scale_to_zero_fix_scores_low_usefulness():
    env = gym.make("opsgym/SRE-1")
    try:
        record, _ = play_episode(env, ScaleToZero(), seed=0)
    finally:
        env.close()
    assert "scale-to-zero" in {p["rule"] for p in record["penalties"]}
    assert record["Usefulness"] <= 0.4 and record["TaskEfficacy"] < 0.5


def test_hint_use_lowers_op_eff():
    records = []
    for agent in (Oracle(), Oracle(hints=1)):
        env = gym.make("opsgym/SRE-1")
        try:
            records.append(play_episode(env, agent, seed=1)[0])
        finally:
            env.close()
    alone, helped = records
    assert alone["OpEff"] == 1.0 and helped["OpEff"] < 1.0 and helped["inputs"]["interventions"] == 1
    assert helped["TaskEfficacy"] == alone["TaskEfficacy"] == 1.0


def test_a_perturbation_changes_what_the_agent_sees_but_not_the_ground_truth():
    outcomes = {}
    for variant in (None, "log-format+noise"):
        env = gym.make("opsgym/SRE-1", **({"perturbation": variant} if variant else {}))
        try:
            record, _ = play_episode(env, Oracle(), seed=2)
            outcomes[variant] = env.unwrapped.outcome
        finally:
            env.close()
        assert record["TaskEfficacy"] == 1.0
    plain, drifted = outcomes[None], outcomes["log-format+noise"]
    assert drifted.ground_truth == plain.ground_truth and drifted.variables == plain.variables
    logs = [i for i, a in enumerate(plain.actions) if " logs " in f" {a.action} "]
    assert logs and all(plain.actions[i].observation != drifted.actions[i].observation for i in logs)


def test_adaptivity_is_one_for_the_oracle_and_below_one_for_a_field_grepper():
    oracle = adaptivity("opsgym/SRE-1", Oracle(), ["log-format", "noise"], [0])
    assert oracle.value == 1.0
    grepper = adaptivity("opsgym/SRE-1", PlainLogGrepper(), ["log-format"], [0])
    assert grepper.episodes[0].task_efficacy == 1.0, "the grepper must solve the unperturbed task"
    assert grepper.value is not None and grepper.value < 1.0
