"""ScoringWrapper behaves like RecordEpisodeStatistics: pass-through, metrics only at the end, reward = metric."""

from __future__ import annotations

import gymnasium as gym
import pytest
from scoring_helpers import ToyIncidentEnv, submit

from opsgym.errors import ScoringConfigError
from opsgym.scoring import ScoringWrapper, recompute


def play(env, actions, seed=0):
    env.reset(seed=seed)
    steps = [env.step(a) for a in actions]
    return steps


def test_metrics_appear_only_on_the_final_step_and_the_reward_is_task_efficacy():
    env = ScoringWrapper(ToyIncidentEnv())
    env.reset(seed=0)
    down = env.unwrapped.down
    obs, reward, term, trunc, info = env.step("logs")
    assert "metrics" not in info and reward == 0.0 and down in obs
    env.step(f"restore {down}")
    obs, reward, term, trunc, info = env.step(submit(down))
    assert term and info["metrics"]["TaskEfficacy"] == 1.0 and reward == 1.0
    assert info["outcome"]["task_id"] == "TOY-1"  # the env's own info passes through


def test_the_key_and_the_reward_metric_are_configurable():
    env = ScoringWrapper(ToyIncidentEnv(), metrics_key="scores", reward_metric="OpEff")
    env.reset(seed=1)
    env.step("hint")
    *_, reward, _, _, info = env.step(submit("cart"))
    assert "metrics" not in info and info["scores"]["OpEff"] == 0.5 == reward


def test_truncation_also_ends_and_scores_the_episode():
    env = ScoringWrapper(ToyIncidentEnv(max_steps=2))
    _, (_, reward, term, trunc, info) = play(env, ["logs", "logs"])
    assert trunc and not term and "metrics" in info
    assert info["metrics"]["Accuracy"] == 0.0 and reward == info["metrics"]["TaskEfficacy"]


def test_run_weights_change_the_score_and_are_recorded():
    env = ScoringWrapper(ToyIncidentEnv(), weights={"task_efficacy": {"accuracy": 1.0, "usefulness": 0.0}})
    env.reset(seed=2)
    env.step(f"restore {env.unwrapped.down}")
    *_, info = env.step(submit("payment"))  # restored, but names the wrong dependency
    record = info["metrics"]
    assert record["profile"]["weights"]["task_efficacy"]["accuracy"] == 1.0
    assert record["TaskEfficacy"] == record["Accuracy"]
    assert recompute(record, profile="sre")["TaskEfficacy"] > record["TaskEfficacy"]  # usefulness counts again


def test_bad_configuration_fails_at_construction():
    with pytest.raises(ScoringConfigError, match="reward_metric"):
        ScoringWrapper(ToyIncidentEnv(), reward_metric="Speed")
    with pytest.raises(ScoringConfigError, match="sum to"):
        ScoringWrapper(ToyIncidentEnv(), weights={"accuracy": {"diag": 1.0, "rca": 1.0, "rem": 0.0}})


class NoOutcomeEnv(ToyIncidentEnv):
    def step(self, action):
        obs, reward, term, trunc, info = super().step(action)
        info.pop("outcome", None)
        return obs, reward, term, trunc, info


def test_an_env_without_an_outcome_is_a_clear_configuration_error():
    env = ScoringWrapper(NoOutcomeEnv())
    env.reset(seed=0)
    with pytest.raises(ScoringConfigError, match=r"info\['outcome'\]"):
        env.step(submit("cart"))


def test_the_judge_absence_is_recorded():
    env = ScoringWrapper(ToyIncidentEnv())
    env.reset(seed=0)
    *_, info = env.step(submit(env.unwrapped.down))
    assert info["metrics"]["judge"] is None
    assert {info["metrics"]["inputs"][k]["method"] for k in ("diag", "root_cause")} == {"structured"}


def test_registered_ids_come_scored(toy_env_id):
    env = gym.make(toy_env_id, weights={"accuracy": {"diag": 0.0, "rca": 1.0, "rem": 0.0}})
    env.reset(seed=0)
    env.step(f"restore {env.unwrapped.down}")  # resolved: the answer keeps all its credit (#15)
    *_, info = env.step(submit(env.unwrapped.down))
    assert info["metrics"]["Accuracy"] == 1.0


def test_task_profile_overrides_apply_and_run_weights_win():
    from types import SimpleNamespace

    inner = ToyIncidentEnv()
    inner.task = SimpleNamespace(id="TOY-1", profile="sre", profile_overrides={  # a diagnosis-only task (#15)
        "accuracy": {"diag": 0.0, "rca": 1.0, "rem": 0.0}, "efficiency": {"comp": 0.0, "econ": 0.0, "op": 1.0},
        "unresolved": {"answer_credit": 1.0}})
    env = ScoringWrapper(inner, weights={"efficiency": {"comp": 1.0, "econ": 0.0, "op": 0.0}})
    env.reset(seed=0)
    *_, info = env.step(submit(inner.down))
    weights = info["metrics"]["profile"]["weights"]
    assert weights["accuracy"]["rca"] == 1.0 and weights["efficiency"]["comp"] == 1.0
    assert info["metrics"]["profile"]["factors"]["unresolved"]["answer_credit"] == 1.0
    assert info["metrics"]["Accuracy"] == 1.0  # root cause right, nothing restored: only rca counts here
