"""The ``react`` agent: ReAct turns over the env's tools, a bounded context, and no crash on bad model output."""

from __future__ import annotations

import itertools

import pytest

from opsgym import plugins
from opsgym.agents.react import ReActAgent, parse_action
from opsgym.errors import LLMRequestError
from opsgym.llm.base import BaseLLMBackend, ChatRequest
from opsgym.llm.telemetry import Ledger, LLMCall
from opsgym.scenario import Tool

VERBS = {"kubectl", "submit", "hint", "ask", "escalate", "help"}


@pytest.mark.parametrize(("output", "action"), [
    ("Thought: look at pods\nAction: kubectl get pods -n shop", "kubectl get pods -n shop"),
    ("Thought: a\nAction: kubectl get pods\nThought: b\nAction: kubectl logs web-1", "kubectl logs web-1"),
    ("**Action:** `kubectl get svc`", "kubectl get svc"),
    ("Action:\n```\nkubectl get nodes\n```", "kubectl get nodes"),
    ("I think we should run\nkubectl get deploy -n shop\nthen see", "kubectl get deploy -n shop"),
    ('Action: submit {"diagnosis": "a",\n "root_cause": "b"}', 'submit {"diagnosis": "a",\n "root_cause": "b"}'),
    ("Action: hint\nObservation: (invented by the model)", "hint"),
    ("no idea what to do", "no idea what to do"),
    ("", ""),
])
def test_parse_action(output, action):
    assert parse_action(output, VERBS) == action


class ScriptedLLM(BaseLLMBackend):
    """A test double: answers with canned turns and remembers every request."""

    name, model = "scripted", "canned"

    def __init__(self, outputs: list[str]):
        self.outputs, self.requests = list(outputs), []

    def complete(self, request: ChatRequest, on_text=None) -> LLMCall:
        self.requests.append(request)
        return LLMCall(backend=self.name, messages=request.messages, output=self.outputs.pop(0),
                       params=request.params(), prompt_tokens=sum(len(m["content"]) for m in request.messages),
                       completion_tokens=5)


class FailingLLM(BaseLLMBackend):
    name = "down"

    def complete(self, request, on_text=None):
        raise LLMRequestError("server down", LLMCall(backend="down", error="ConnectError", infra_failure=True))


class ToolEnv:
    """Just what the agent reads from an env: its tools and step budget."""

    tools = (Tool("kubectl", "kubectl VERB ...", "run kubectl"), Tool("hint", "hint", "get a hint"))
    max_steps = 20

    @property
    def unwrapped(self):
        return self


def test_conversation_grows_at_the_end_and_every_call_is_recorded():
    llm = ScriptedLLM(["Thought: t\nAction: kubectl get pods", "garbage without format", "Action: hint"])
    agent, ledger = ReActAgent(llm, max_tokens=32), Ledger()
    agent.reset(seed=3, env=ToolEnv(), ledger=ledger)
    actions = [agent.act(obs, {"step": i}) for i, obs in enumerate(["ALERT: pods crash", "pod list", "bad action"])]
    assert actions == ["kubectl get pods", "garbage without format", "hint"]
    first, last = llm.requests[0], llm.requests[-1]
    assert first.messages[0]["role"] == "system" and "kubectl VERB ..." in first.messages[0]["content"]
    assert last.messages[: len(first.messages)] == first.messages  # history only grows: prefix caches can reuse it
    assert last.messages[-1] == {"role": "user", "content": "Observation: bad action"}
    assert (last.max_tokens, last.temperature) == (32, 0.0)
    assert [r.seed for r in llm.requests] == [3, 4, 5]  # reproducible, but a fresh draw each turn
    assert len(ledger.calls) == 3 and ledger.calls[1].output == "garbage without format"


def test_steps_left_warning_near_the_budget():
    llm = ScriptedLLM(["Action: hint"] * 2)
    agent = ReActAgent(llm)
    agent.reset(env=ToolEnv())
    agent.act("alert", {"step": 0})
    agent.act("obs", {"step": 18})
    assert "2 steps left" in llm.requests[-1].messages[-1]["content"]


def test_context_budget_shortens_old_observations_then_drops_old_steps_but_keeps_the_task():
    llm = ScriptedLLM(["Action: kubectl get pods"] * 4)
    agent = ReActAgent(llm, context_chars=3500, low_water=0.9, examples=[("example alert", "Action: hint")])
    agent.reset(env=ToolEnv())
    task = "ALERT " + "x" * 900
    for i, obs in enumerate([task, "a" * 1500, "b" * 1500, "c" * 1500]):
        agent.act(obs, {"step": i})
    sent = llm.requests[-1].messages
    assert [m["content"] for m in sent[1:4]] == ["example alert", "Action: hint", task]
    assert sum(len(m["content"]) for m in sent) <= 3500 * 0.9  # cut down to the low-water mark in one go
    assert "characters dropped" in llm.requests[2].messages[5]["content"]  # first shortened ...
    assert sent[4]["content"].startswith("[1 earlier steps omitted")  # ... then the oldest step dropped
    assert "characters dropped" in sent[5]["content"] and sent[5]["content"].startswith("Observation: bbb")
    assert sent[-1]["content"].endswith("c" * 1500)  # the newest observation is whole
    assert len(llm.requests[1].messages[5]["content"]) > 1500  # what an earlier call sent is kept as it was


class WindowedLLM(ScriptedLLM):
    """A scripted backend that states its context window, as the real backends do."""

    def __init__(self, outputs: list[str], context_window: int):
        super().__init__(outputs)
        self.context_window = context_window


def test_budget_follows_the_backends_context_window():
    assert ReActAgent(WindowedLLM([], 8192), max_tokens=96).context_chars == int((8192 - 96) * 3.0)
    assert ReActAgent(WindowedLLM([], 8192), context_tokens=2000, max_tokens=100).context_chars == 1900 * 3
    assert ReActAgent(ScriptedLLM([]), context_chars=5000).context_chars == 5000


def test_prompt_prefix_is_stable_until_a_rare_deep_trim():
    turns = 40
    llm = WindowedLLM(["Thought: t\nAction: kubectl get pods"] * turns, context_window=1200)
    agent = ReActAgent(llm, max_tokens=100, examples=[("example alert", "Action: hint")])
    agent.reset(env=ToolEnv())
    for i in range(turns):
        agent.act("ALERT: pods crash" if i == 0 else f"output {i} " + "z" * 400, {"step": i})
    head = llm.requests[0].messages[:4]  # system prompt, the example turn, the task
    trims = []
    for i, (before, after) in enumerate(itertools.pairwise(r.messages for r in llm.requests), start=1):
        assert after[:4] == head
        if after[: len(before)] != before:
            trims.append(i)
    budget = agent.context_chars
    assert all(sum(len(m["content"]) for m in r.messages) <= budget for r in llm.requests)
    assert trims, "the history outgrew the window, so it must have been trimmed"
    per_turn = len("Observation: output 10 ") + 400 + len("Thought: t\nAction: kubectl get pods")
    assert min(b - a for a, b in itertools.pairwise(trims)) >= (budget * (1 - agent.low_water)) // per_turn - 1
    assert len(trims) <= turns * per_turn // (budget * (1 - agent.low_water)) + 1


def test_a_repeated_observation_is_sent_as_a_reference_once():
    llm = ScriptedLLM(["Action: kubectl get pods"] * 4)
    agent = ReActAgent(llm, examples=())
    agent.reset(env=ToolEnv())
    help_text = "Usage: kubectl get ... " + "flags " * 40
    for i, obs in enumerate(["ALERT", help_text, help_text, "short"]):
        agent.act(obs, {"step": i})
    sent = [m["content"] for m in llm.requests[-1].messages]
    assert sent[3] == "Observation: " + help_text
    assert sent[5] == "Observation: (the same output as after step 1, shown above)"
    assert sent[7] == "Observation: short"
    assert llm.requests[2].messages == llm.requests[3].messages[:-2]  # decided on arrival, never rewritten


def test_default_examples_come_before_the_task():
    llm = ScriptedLLM(["Action: hint"])
    agent = ReActAgent(llm)
    agent.reset(env=ToolEnv())
    agent.act("THE TASK", {"step": 0})
    sent = llm.requests[0].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[-1]["content"] == "THE TASK" and sent[2]["content"].startswith("Thought:")


def test_llm_outage_is_recorded_and_raised_as_infrastructure():
    agent, ledger = ReActAgent(FailingLLM()), Ledger()
    agent.reset(env=ToolEnv(), ledger=ledger)
    with pytest.raises(LLMRequestError):
        agent.act("alert", {"step": 0})
    assert ledger.calls[0].infra_failure


def test_registered_and_built_from_a_spec_string():
    entry = plugins.get("agent", "react")
    agent = entry.factory(llm="openai:http://127.0.0.1:9/v1,model=m", max_tokens=16)
    assert isinstance(agent, ReActAgent) and agent.llm.name == "openai" and agent.max_tokens == 16


@pytest.mark.slow
def test_react_episode_on_sre1_with_a_real_model_leaves_a_complete_record():
    gym = pytest.importorskip("gymnasium")
    import opsgym  # noqa: F401  (registers ids)

    if "opsgym/SRE-1" not in gym.registry:
        pytest.skip("opsgym/SRE-1 is not registered in this build")
    from opsgym.llm.models import converted_model_dir
    from opsgym.record import RunSpec
    from opsgym.runner.episode import EpisodeRunner

    converted_model_dir()
    spec = RunSpec(run_id="t", episode_key="k", env_id="opsgym/SRE-1", seed=0, agent="react",
                   agent_config={"max_tokens": 24}, llm="hf-prefix", env_kwargs={"max_steps": 3})
    runner = EpisodeRunner()
    try:
        record = runner.run(spec)
    finally:
        runner.close()
    assert record.status == "completed" and record.truncated, record.error
    assert len(record.steps) == 3 and len(record.llm_calls) == 3
    assert [s.llm_call_ids for s in record.steps] == [[0], [1], [2]]
    assert all(c.messages and c.prompt_tokens and c.completion_tokens for c in record.llm_calls)
    assert record.llm_calls[2].cached_prompt_tokens > 0  # hf-prefix reused the growing history
    assert record.llm_summary["requests"] == 3
