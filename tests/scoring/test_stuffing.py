"""Keyword stuffing must not pay (#15), on real SRE episodes (embedded cluster).

A do-nothing agent reads nothing and submits an answer that lists every service, ConfigMap, key, env name and symptom
word of the task's alert and app. Before #15 it scored 0.65; now every episode that leaves the incident in place
stays below 0.3 whatever it submits — the stuffed answer, or the oracle's exact answer without the oracle's repair.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

import opsgym  # noqa: F401  (registers the opsgym/* ids)
from opsgym.scoring.adaptivity import play_episode
from opsgym.tasks import load_task

ROOT = Path(__file__).resolve().parents[2]
SRE_IDS = sorted(i for i in gym.registry if re.fullmatch(r"opsgym/SRE-\d+", i))
SEEDS = range(5)
DO_NOTHING_BOUND = 0.3
pytestmark = pytest.mark.skipif(not SRE_IDS, reason="no SRE task in this checkout")


def _app_names() -> list[str]:
    """Every name in the shop's manifests, read here from the files (not from what the scenario reports)."""
    names: set[str] = set()
    for path in sorted((ROOT / "envs/_apps/shop/manifests").glob("*.yaml")):
        for obj in yaml.safe_load_all(path.read_text()):
            if not obj:
                continue
            names.add(obj["metadata"]["name"])
            names.update((obj.get("data") or {}).keys())
            for container in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
                names.add(container["name"])
                names.update(e["name"] for e in container.get("env", []))
    return sorted(names)


def _symptom_words() -> list[str]:
    """Every literal keyword of every SRE task's ground truth, and every word of their alerts."""
    words: set[str] = set()
    for path in sorted(ROOT.glob("envs/sre-*/task.yaml")):
        task = load_task(path)  # the merged task: a library task keeps its ground truth in the files it uses
        truth = task.ground_truth
        for group in truth.diagnosis_keywords + truth.root_cause_keywords:
            words.update(w for w in group if "${" not in w)
        words.update(re.findall(r"[A-Za-z][A-Za-z0-9-]+", task.sre.alert))
    return sorted(words)


def _stuffed() -> list[dict]:
    everything = " ".join(_app_names() + _symptom_words())
    first = _app_names()[0]
    return [
        {"diagnosis": everything, "root_cause": everything, "remediation": everything},
        {"diagnosis": everything, "remediation": everything,  # one object, but every name and key in its fields
         "root_cause": {"kind": "ConfigMap", "name": ",".join(_app_names()), "field": "data.*"}},
        {"diagnosis": everything, "remediation": everything,
         "root_cause": {"kind": "Deployment", "name": first, "field": " ".join(f"data.{n}" for n in _app_names())}},
    ]


class DoNothing:
    """Reads nothing, repairs nothing, submits ``answer`` (or the oracle's exact answer when it is None)."""

    def __init__(self, answer: dict | None) -> None:
        self.answer = answer

    def reset(self, *, seed=None, env=None, ledger=None):
        exact = [a for a in env.unwrapped.oracle_solution() if a.startswith("submit")][-1]
        self.action = exact if self.answer is None else "submit " + json.dumps(self.answer)

    def act(self, observation, info):
        return self.action


@pytest.mark.parametrize("env_id", SRE_IDS)
def test_a_do_nothing_episode_scores_below_the_bound_whatever_it_submits(env_id):
    env = gym.make(env_id)
    scores = {}
    try:
        for seed in SEEDS:
            for index, answer in enumerate([*_stuffed(), None]):
                record, _ = play_episode(env, DoNothing(answer), seed=seed)
                assert record["inputs"]["remediation_correct"] == 0.0
                scores[seed, "exact answer" if answer is None else f"stuffed #{index}"] = record["TaskEfficacy"]
    finally:
        env.close()
    worst = max(scores, key=scores.get)
    assert scores[worst] < DO_NOTHING_BOUND, (worst, scores[worst])


def test_the_stuffed_answer_is_graded_by_precision_even_with_the_fix():
    """The oracle's repair, then the stuffed free-text answer: remediation counts, the answer nearly nothing."""
    env = gym.make("opsgym/SRE-1")

    class FixThenStuff:
        def reset(self, *, seed=None, env=None, ledger=None):
            self.plan = [a for a in env.unwrapped.oracle_solution() if not a.startswith("submit")]
            self.plan.append("submit " + json.dumps(_stuffed()[0]))

        def act(self, observation, info):
            return self.plan.pop(0)

    try:
        record, _ = play_episode(env, FixThenStuff(), seed=0)
    finally:
        env.close()
    c = record["components"]
    assert c["RemediationCorrect"] == 1.0 and c["AnswerCredit"] == 1.0
    assert c["DiagPrecision"] < 0.2 and c["RootCausePrecision"] < 0.2
    assert c["DiagCorrect"] < 0.2 and c["RootCauseCorrect"] < 0.2
    names = record["inputs"]["diag"]["entities"]
    assert names["candidates"] >= 40 and env.unwrapped.variables["service"] in names["relevant"]


def test_the_scenario_lists_names_never_values_as_its_entities():
    env = gym.make("opsgym/SRE-1")
    try:
        env.reset(seed=0)
        *_, info = env.step('submit {"diagnosis": "x"}')
    finally:
        env.close()
    entities = set(info["outcome"]["extra"]["entities"])
    assert set(_app_names()) <= entities | {"shop-programs"}  # every object name, key and env name of the app
    assert "shop-programs" in entities and "cart.py" not in entities  # the programs are not settings
    values = ("50", "stripe-sim", "kv:6379", "c2tfdGVzdF80ZUMzOUhxTHlqV0Rhcmp0VDF6ZHA3ZGM=")  # a Secret's value too
    assert not entities & set(values)
