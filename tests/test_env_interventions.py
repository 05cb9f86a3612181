"""hint, ask and escalate: a human's help counts against the agent (OpEff) and is never the task's answer.

The attack these tests replay: ``escalate`` used to answer with the ground truth's exact remediation, so an agent could
escalate, run the commands it was told and submit the text — scoring as if it had solved the incident itself.
"""

from __future__ import annotations

import re
import string

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym import plugins
from opsgym.env import OpsEnv
from opsgym.interventions import ESCALATED, answer_fragments, leaks, served_hints
from opsgym.outcome import Outcome

SRE_IDS = sorted(i for i in gym.registry if i.startswith("opsgym/SRE-"))
TASKS = sorted(plugins.entries("task"))


def follow(env: gym.Env, text: str) -> dict:
    """Do what a text says: run every kubectl command in it, then submit the text as the answer; return the last
    info that carried metrics."""
    final: dict = {}
    commands = re.findall(r"`(kubectl [^`]+)`", text) + re.findall(r"^\s*(kubectl .+)$", text, re.M)
    answer = text.replace('"', "'").replace("\\", "/")
    submit = f'submit {{"diagnosis": "{answer}", "root_cause": "{answer}", "remediation": "{answer}"}}'
    for action in [*commands, submit]:
        *_, info = env.step(action)
        final = info if "metrics" in info else final
    return final


def solution_fragments(env: gym.Env) -> list[str]:
    return answer_fragments(env.unwrapped.task, env.unwrapped.variables)


@pytest.mark.parametrize("env_id", SRE_IDS)
def test_escalating_and_following_the_reply_does_not_score_as_solving(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("escalate I am stuck")
    assert terminated and not truncated  # the incident went to a human: the episode is over
    assert not leaks(obs, solution_fragments(env))
    final = follow(env, obs) or info
    control = bool(getattr(env.unwrapped.task.section, "control", False))  # a false alarm: nothing to repair
    assert final["metrics"]["components"]["RemediationCorrect"] == (1.0 if control else 0.0)
    # on a control the app stays untouched, but calling a human about a false alarm is not knowing it is one
    assert final["metrics"]["TaskEfficacy"] < (1.0 if control else 0.5) and reward == final["metrics"]["reward"]
    assert env.step("kubectl get pods -A")[0].startswith("The episode is over")
    env.close()


def test_an_escalation_ends_the_episode_with_an_outcome_metrics_and_the_reason_as_answer():
    env = gym.make("opsgym/SRE-1")
    env.reset(seed=0)
    env.step("kubectl get pods -A")
    obs, reward, terminated, truncated, info = env.step("escalate the checkout pods crash-loop; I could not find why")
    assert obs == ESCALATED and terminated
    outcome = info["outcome"]
    assert outcome["escalated"] and not outcome["submitted"] and outcome["terminated"]
    assert outcome["answer"]["diagnosis"] == "the checkout pods crash-loop; I could not find why"
    assert outcome["interventions"] == 1 and outcome["actions"][-1]["verb"] == "escalate"
    assert outcome["actions"][-1]["cls"] == "intervention"
    assert info["metrics"]["OpEff"] < 1.0 and "TaskEfficacy" in info["metrics"]
    env.close()


def test_an_escalation_after_fixing_the_incident_is_credited_with_the_fix():
    env = gym.make("opsgym/SRE-1")
    env.reset(seed=0)
    fix = [a for a in env.unwrapped.oracle_solution() if not a.startswith("submit")]
    for action in fix:
        env.step(action)
    *_, terminated, _, info = env.step("escalate fixed the configmap key; please double-check the rollout")
    assert terminated and info["outcome"]["remediation_correct"] == 1.0 and info["outcome"]["escalated"]
    env.close()


def test_a_record_from_before_escalation_ended_episodes_still_reads():
    old = {"task_id": "SRE-1", "task_version": "1", "domain": "sre", "profile": "sre", "seed": 0, "backend": "sim"}
    assert Outcome.model_validate(old).escalated is False


@pytest.mark.parametrize("env_id", SRE_IDS)
def test_hint_and_ask_never_say_the_remediation_or_a_fixing_command(env_id):
    env = gym.make(env_id, max_steps=100)
    env.reset(seed=5)
    fragments = solution_fragments(env)
    assert fragments  # the check below has something to look for
    for action in ["hint"] * 4 + ["ask how do I fix it?", "ask what is the exact command?"] * 2:
        obs, *_ = env.step(action)
        assert not leaks(obs, fragments), (action, obs)
    env.close()


@pytest.mark.parametrize("task_id", TASKS)
def test_no_task_hint_gives_away_its_ground_truth(task_id):
    """Every task's hints against its own remediation text and reference solution (SRE variables from a seed)."""
    task = plugins.get("task", task_id).factory
    variables = {}
    if task.domain == "sre":
        env = OpsEnv(task)
        env.reset(seed=3)
        variables = env.variables
        env.close()
    fragments = answer_fragments(task, variables)
    hints = [string.Template(h).safe_substitute(variables) for h in task.hints]
    assert hints and fragments
    assert [h for h in hints if leaks(h, fragments)] == []
    assert served_hints(task, variables) == hints  # so the env serves every one of them


def test_a_hint_that_carries_the_answer_is_held_back():
    task = plugins.get("task", "SRE-2").factory
    leaky = task.model_copy(update={"hints": [
        "Look at the pods first.",
        "Run `kubectl set env deployment/${service} -n ${namespace} ${env_name}=${good_addr}`.",
        "Do this:  " + "  ".join(task.ground_truth.remediation.split(" ")),  # other spacing hides nothing
    ]})
    env = OpsEnv(leaky)
    env.reset(seed=0)
    seen = [env.step("hint")[0] for _ in range(3)] + [env.step("ask what now?")[0]]
    assert all("Look at the pods first." in obs for obs in seen)
    assert not any(leaks(obs, answer_fragments(leaky, env.variables)) for obs in seen)
    env.close()
