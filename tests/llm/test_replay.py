"""Replay and bench: the same recorded work re-issued against other inference configurations."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.errors import OpsGymError
from opsgym.llm.base import BaseLLMBackend, ChatRequest
from opsgym.llm.bench import run_bench
from opsgym.llm.replay import bundled_trace, load_trace, replay, replay_concurrent
from opsgym.llm.telemetry import LLMCall
from opsgym.record import EpisodeRecord, RecordWriter, RunSpec


def recorded_call(i: int, **extra) -> LLMCall:
    messages = [{"role": "system", "content": "sys"}] + [{"role": "user", "content": f"obs {k}"} for k in range(i + 1)]
    return LLMCall(backend="hf-prefix", messages=messages, output=f"out {i}", prompt_tokens=10 * (i + 1),
                   completion_tokens=3 + i, params={"max_tokens": 64, "temperature": 0.0}, **extra)


def write_record(path, calls) -> None:
    spec = RunSpec(run_id="r", episode_key="k", env_id="opsgym/SRE-1", seed=0, agent="react")
    writer = RecordWriter(path)
    writer.write(EpisodeRecord(status="completed", spec=spec, llm_calls=calls))
    writer.close()


class CountingLLM(BaseLLMBackend):
    """A test double that 'generates' exactly the tokens it is asked for."""

    name = "counting"

    def __init__(self):
        self.requests: list[ChatRequest] = []

    def complete(self, request, on_text=None):
        self.requests.append(request)
        return LLMCall(backend=self.name, messages=request.messages, prompt_tokens=len(request.messages),
                       completion_tokens=request.max_tokens, params=request.params(), decode_s=0.01, latency_s=0.01)


def test_load_trace_skips_failed_calls_and_limits_turns(tmp_path):
    path = tmp_path / "records.jsonl"
    write_record(path, [recorded_call(0), recorded_call(1, error="ConnectError", infra_failure=True),
                        recorded_call(2)])
    assert [c.output for c in load_trace(path)] == ["out 0", "out 2"]
    assert len(load_trace(path, turns=1)) == 1
    with pytest.raises(OpsGymError, match="no episode with LLM calls"):
        load_trace(tmp_path / "missing.jsonl")


def test_replay_reissues_the_same_messages_with_forced_lengths():
    calls = [recorded_call(i) for i in range(3)]
    llm = CountingLLM()
    result = replay(llm, calls)
    assert [r.messages for r in llm.requests] == [c.messages for c in calls]
    assert [(r.max_tokens, r.min_tokens, r.ignore_eos) for r in llm.requests] == [(3, 3, True), (4, 4, True),
                                                                                   (5, 5, True)]
    assert result.summary()["completion_tokens"] == 12


def test_concurrent_agents_are_distinct_conversations():
    calls = [recorded_call(i) for i in range(2)]
    llm = CountingLLM()
    result = replay_concurrent(llm, calls, 3)
    firsts = {r.messages[0]["content"] for r in llm.requests}
    assert firsts == {f"[agent {k}]\nsys" for k in range(3)}
    assert len(result.ledgers) == 3 and all(len(ledger.calls) == 2 for ledger in result.ledgers)
    assert result.summary()["agents"] == 3 and result.summary()["aggregate_tokens_per_s"] > 0


def test_bundled_trace_is_a_long_sre_episode_from_opsgym():
    path = bundled_trace()
    assert path.stat().st_size < 2_000_000
    record = json.loads(path.read_text().splitlines()[0])
    assert record["spec"]["env_id"] == "opsgym/SRE-1" and record["spec"]["agent"] == "react"
    calls = load_trace(path)
    assert len(calls) >= 20
    prompts = [c.prompt_tokens for c in calls]
    grew = sum(later > earlier for earlier, later in itertools.pairwise(prompts))
    assert grew >= 0.75 * (len(prompts) - 1)  # the context grows turn after turn (the agent trims it now and then)
    assert max(prompts) > 3 * prompts[0]
    generated = sum(c.completion_tokens for c in calls)
    assert sum(prompts) > 20 * generated  # prefill-dominated, as in the seed's Table 6


def test_bench_compares_configs_on_identical_work(hf_naive):
    calls = load_trace(turns=2)
    report = run_bench(calls, configs=[("naive", "hf-naive"), ("prefix", "hf-prefix"),
                                       ("vllm", "vllm:serial,venv=/nonexistent-venv")], agents=0, log=lambda _: None)
    naive, prefix, vllm = report.rows
    assert naive.prompt_tokens == prefix.prompt_tokens == sum(c.prompt_tokens for c in calls)
    assert naive.generated_tokens == prefix.generated_tokens == sum(c.completion_tokens for c in calls)
    assert naive.computed_prompt_tokens == naive.prompt_tokens
    assert prefix.computed_prompt_tokens < naive.computed_prompt_tokens
    assert report.ratios["hf_prompt_tokens_computed_x"] > 1
    assert report.ratios["hf_time_to_solution_ceiling_x"] == pytest.approx(
        naive.runtime_s / (naive.runtime_s - naive.prefill_s))  # the baseline's own prefill, not the cached run's
    assert "setup-vllm-cpu.sh" in vllm.skipped or "not a virtual environment" in vllm.skipped


def test_replay_command(tmp_path, hf_prefix):
    path = tmp_path / "records.jsonl"
    write_record(path, load_trace(turns=2))
    out = tmp_path / "calls.json"
    result = CliRunner().invoke(app, ["replay", str(path), "--llm", "hf-prefix", "--out", str(out)])
    assert result.exit_code == 0, result.output
    replayed = json.loads(out.read_text())
    assert [c["completion_tokens"] for c in replayed] == [c.completion_tokens for c in load_trace(turns=2)]
    assert "prompt_tokens" in result.output


@pytest.mark.parametrize("peer", [["ok", "500"]], indirect=True)
def test_replay_survives_a_server_that_dies(peer):
    from opsgym.llm.openai_backend import OpenAIBackend

    backend = OpenAIBackend(peer.url, model="m", max_retries=1, backoff_s=0.01)
    result = replay(backend, [recorded_call(i) for i in range(3)])
    summary = result.summary()
    assert (summary["requests"], summary["failed_requests"], summary["infra_failures"]) == (3, 2, 2)
    assert result.calls[2].messages == recorded_call(2).messages


def write_raw_record(path, calls: list[dict]) -> None:
    """A record line as a foreign file may hold it: call fields exactly as given, types included."""
    spec = RunSpec(run_id="r", episode_key="k", env_id="opsgym/SRE-1", seed=0, agent="react")
    data = json.loads(EpisodeRecord(status="completed", spec=spec, llm_calls=[recorded_call(0)]).to_json_line())
    data["llm_calls"] = [{**data["llm_calls"][0], **call} for call in calls]
    path.write_text("\n" + json.dumps(data) + "\n")  # a blank first line: the record is on line 2


@pytest.mark.parametrize(("call", "field", "why"), [
    ({"completion_tokens": 10**12}, "completion_tokens", "out of range"),
    ({"completion_tokens": -7}, "completion_tokens", "out of range"),
    ({"prompt_tokens": True}, "prompt_tokens", "not a whole number"),
    ({"prompt_tokens": "12"}, "prompt_tokens", "not a whole number"),
    ({"cached_prompt_tokens": 50, "prompt_tokens": 10}, "cached_prompt_tokens", "more than prompt_tokens"),
    ({"latency_s": -1.0}, "latency_s", "not a finite, non-negative number"),
    ({"cost_usd": float("inf")}, "cost_usd", "not a finite, non-negative number"),
    ({"params": {"max_tokens": 10**12}}, "params.max_tokens", "out of range"),
    ({"params": {"max_tokens": 0}}, "params.max_tokens", "out of range"),
    ({"params": {"temperature": float("nan")}}, "params.temperature", "not a finite"),
    ({"params": {"top_p": 7.0}}, "params.top_p", "less than or equal to 1"),
    ({"params": {"seed": 2**80}}, "params.seed", "out of range"),
    ({"messages": [{"role": "user", "content": {"nested": "object"}}]}, "messages[0].content", "not text"),
], ids=["huge", "negative", "bool", "string", "cached-above-prompt", "negative-time", "infinite-cost", "huge-max",
        "zero-max", "nan-temperature", "top-p", "huge-seed", "message-object"])
def test_replay_refuses_out_of_range_or_wrong_typed_usage_naming_record_and_field(tmp_path, call, field, why):
    path = tmp_path / "records.jsonl"
    write_raw_record(path, [{}, call])
    with pytest.raises(OpsGymError, match=re.escape(f"line 2: llm_calls[1].{field}: ")) as caught:
        load_trace(path)
    assert why in str(caught.value)
    result = CliRunner().invoke(app, ["replay", str(path), "--llm", "hf-naive"])
    assert result.exit_code == 2 and f"llm_calls[1].{field}" in " ".join(result.output.split())


def test_replay_of_calls_given_directly_checks_them_before_sending_anything():
    llm = CountingLLM()
    bad = recorded_call(1).model_copy(update={"completion_tokens": -7})  # model_copy skips pydantic's validation
    with pytest.raises(OpsGymError, match=r"call 1\.completion_tokens: -7 is out of range"):
        replay(llm, [recorded_call(0), bad])
    with pytest.raises(OpsGymError, match=r"call 1\.completion_tokens"):
        replay_concurrent(llm, [recorded_call(0), bad], 2)
    assert llm.requests == []


def test_a_valid_record_with_unknown_usage_still_replays(tmp_path):
    path = tmp_path / "records.jsonl"
    write_raw_record(path, [{"prompt_tokens": None, "completion_tokens": None, "latency_s": None}])
    assert len(load_trace(path)) == 1 and len(load_trace(bundled_trace())) >= 20
