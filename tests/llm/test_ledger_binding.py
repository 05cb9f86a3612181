"""One channel for LLM telemetry: each call lands in the ledger of the env episode whose agent turn made it.

Nobody hands a ledger around: the agent loop binds the env's episode ledger (a context variable) around each agent
turn, and an LLM agent records into whatever is bound. These tests interleave episodes in one thread and across
threads, and keep an agent written against the old ``reset(..., ledger=)`` contract scored.
"""

from __future__ import annotations

import threading

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers opsgym/* ids)
from opsgym.agents.base import act, play_episode, reset_agent
from opsgym.agents.react import ReActAgent
from opsgym.llm.base import BaseLLMBackend, ChatRequest
from opsgym.llm.telemetry import Ledger, LLMCall, current_ledger, ledger_of, record_call, recording

SUBMIT = 'Action: submit {"diagnosis": "d", "root_cause": "r", "remediation": "x"}'


class TaggedLLM(BaseLLMBackend):
    """Answers ``kubectl get <tag>`` (so each call says whose it is) and submits on its last turn."""

    name, model = "tagged", "canned"

    def __init__(self, tag: str, turns: int, barrier: threading.Barrier | None = None) -> None:
        self.tag, self.left, self.barrier = tag, turns, barrier

    def complete(self, request: ChatRequest, on_text=None) -> LLMCall:
        if self.barrier is not None:  # both threads are inside a call at once: their turns overlap
            self.barrier.wait(timeout=60)
        self.left -= 1
        output = SUBMIT if self.left == 0 else f"Action: kubectl get {self.tag} -n market"
        return LLMCall(backend=self.name, output=output, prompt_tokens=10, completion_tokens=2, cost_usd=0.001)


def _sre1():
    return gym.make("opsgym/SRE-1", max_steps=6)


def _tags(ledger: Ledger) -> list[str]:
    return [c.output.rsplit(" ", 3)[-3] if "kubectl" in c.output else "submit" for c in ledger.calls]


def test_two_envs_interleaved_in_one_thread_keep_their_calls_apart():
    envs = {"pods": _sre1(), "svc": _sre1()}
    agents = {tag: ReActAgent(TaggedLLM(tag, turns=3)) for tag in envs}
    state = {}
    for seed, (tag, env) in enumerate(envs.items()):  # both episodes open before either agent acts
        state[tag] = env.reset(seed=seed)
        reset_agent(agents[tag], seed=seed, env=env)
    infos = {}
    for _ in range(3):
        for tag, env in envs.items():  # pods, svc, pods, svc …: one thread, turns alternating
            obs, info = state[tag]
            obs, _, terminated, truncated, info = env.step(act(agents[tag], env, obs, info))
            state[tag] = obs, info
            if terminated or truncated:
                infos[tag] = info
    for tag, env in envs.items():
        assert _tags(ledger_of(env)) == [tag, tag, "submit"]
        assert infos[tag]["metrics"]["inputs"]["llm"]["requests"] == 3  # scored from that episode's ledger alone
        env.close()
    assert current_ledger() is None  # every binding was undone after its turn


def test_episodes_in_two_threads_at_once_keep_their_calls_apart():
    barrier = threading.Barrier(2)
    results: dict[str, tuple[Ledger | None, dict]] = {}
    errors: list[BaseException] = []

    def play(tag: str, seed: int) -> None:
        env = _sre1()
        try:
            end = play_episode(env, ReActAgent(TaggedLLM(tag, turns=3, barrier=barrier)), seed=seed)
            results[tag] = ledger_of(env), end.info
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
            barrier.abort()
        finally:
            env.close()

    threads = [threading.Thread(target=play, args=(tag, seed)) for seed, tag in enumerate(("pods", "svc"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for tag, (ledger, info) in results.items():
        assert ledger is not None and _tags(ledger) == [tag, tag, "submit"]
        assert info["metrics"]["inputs"]["llm"]["requests"] == 3


class OldStyleAgent:
    """A third-party agent written against the old contract: it records into the ledger ``reset`` hands it."""

    def __init__(self) -> None:
        self.turn = 0

    def reset(self, *, seed=None, env=None, ledger=None) -> None:
        self.ledger, self.turn = ledger, 0

    def act(self, observation: str, info: dict) -> str:
        self.turn += 1
        self.ledger.record(LLMCall(backend="old", output=str(self.turn), prompt_tokens=100, completion_tokens=10,
                                   cost_usd=0.25))
        return "kubectl get pods -n market" if self.turn < 3 else SUBMIT.removeprefix("Action: ")


def test_an_agent_with_the_old_reset_ledger_contract_still_gets_its_calls_scored():
    env = _sre1()
    try:
        end = play_episode(env, OldStyleAgent(), seed=0)
        llm = end.info["metrics"]["inputs"]["llm"]
        assert llm["requests"] == 3 and llm["prompt_tokens"] == 300
        assert end.info["metrics"]["inputs"]["inference_cost_usd"] == pytest.approx(0.75)
        assert [c.output for c in ledger_of(env).calls] == ["1", "2", "3"]
    finally:
        env.close()


def test_recording_nests_and_restores_and_an_unbound_call_is_dropped():
    outer, inner = Ledger(), Ledger()
    record_call(LLMCall(backend="nowhere"))  # outside any episode: kept nowhere, and no error
    with recording(outer):
        record_call(LLMCall(backend="a"))
        with recording(inner):
            record_call(LLMCall(backend="b"))
        record_call(LLMCall(backend="c"))
    assert [c.backend for c in outer.calls] == ["a", "c"] and [c.backend for c in inner.calls] == ["b"]
    assert current_ledger() is None


def test_a_ledger_passed_to_reset_still_wins_for_react():
    """The deprecated ``ledger=`` keeps working for callers that pass one by hand (as the old tests do)."""
    mine, bound = Ledger(), Ledger()
    agent = ReActAgent(TaggedLLM("pods", turns=2))
    agent.reset(seed=0, env=None, ledger=mine)
    with recording(bound):
        agent.act("ALERT", {"step": 0})
    assert len(mine.calls) == 1 and not bound.calls
