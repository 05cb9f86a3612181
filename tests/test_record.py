"""The episode record: a versioned JSONL line per episode, durable on write, and a reader that survives damage."""

from __future__ import annotations

import json
import math
from pathlib import Path

from opsgym.llm.telemetry import LLMCall
from opsgym.outcome import Outcome
from opsgym.record import RECORD_VERSION, EpisodeError, EpisodeRecord, RecordWriter, RunSpec, StepRecord, read_records


def make_record(seed: int = 0, **changes) -> EpisodeRecord:
    spec = RunSpec(run_id="r", episode_key=f"key-{seed}", env_id="opsgym/SRE-1", seed=seed, agent="react",
                   agent_config={"temperature": 0.0}, llm="openai:http://127.0.0.1:8000/v1", llm_config={"x": 1},
                   model={"model": "smollm2"}, versions={"opsgym": "0.1.0"})
    call = LLMCall(backend="openai", model="smollm2", messages=[{"role": "user", "content": "alert"}],
                   output="kubectl get pods", prompt_tokens=12, completion_tokens=4)
    fields = dict(status="completed", spec=spec, steps=[StepRecord(index=0, action="kubectl get pods",
                                                                  observation="pod a CrashLoopBackOff",
                                                                  llm_call_ids=[0])],
                  llm_calls=[call], reward=0.5,
                  outcome=Outcome(task_id="SRE-1", task_version="1", domain="sre", profile="sre", seed=seed,
                                  backend="sim", ground_truth={"diagnosis": "bad config"}),
                  metrics={"TaskEfficacy": 0.5, "inputs": {"steps": 1}})
    return EpisodeRecord(**(fields | changes))


def test_a_record_round_trips_with_schema_version_steps_and_llm_calls(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    with RecordWriter(path) as writer:
        writer.write(make_record(0))
        writer.write(make_record(1, status="infra_failure",
                                 error=EpisodeError(kind="infrastructure", type="X", message="server down")))
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    raw = json.loads(lines[0])
    assert raw["schema"] == "opsgym.episode" and raw["version"] == RECORD_VERSION
    result = read_records(path)
    assert not result.problems
    first, second = result.records
    assert first.calls_for_step(0)[0].messages == [{"role": "user", "content": "alert"}]
    assert first.ground_truth == {"diagnosis": "bad config"}
    assert first.spec.label == "react:temperature=0.0:openai:http://127.0.0.1:8000/v1"
    assert first.final and not second.final
    assert second.error.kind == "infrastructure"


def test_a_torn_last_line_is_reported_as_torn_and_the_next_write_starts_a_fresh_line(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    with RecordWriter(path) as writer:
        writer.write(make_record(0))
    whole = make_record(1).to_json_line()
    with open(path, "a") as f:
        f.write(whole[: len(whole) // 2])  # a crash in the middle of a write
    torn = read_records(path)
    assert [r.spec.seed for r in torn.records] == [0]
    assert len(torn.problems) == 1 and torn.problems[0].torn and torn.problems[0].line == 2

    with RecordWriter(path) as writer:  # a resumed run appends after the fragment
        writer.write(make_record(2))
    healed = read_records(path)
    assert [r.spec.seed for r in healed.records] == [0, 2]
    assert [(p.line, p.torn) for p in healed.problems] == [(2, False)]
    assert "not JSON" in healed.problems[0].reason


def test_corrupt_foreign_newer_and_invalid_lines_are_each_reported_by_line_number_and_skipped(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    good = make_record(0).to_json_line()
    newer = json.loads(make_record(1).to_json_line()) | {"version": RECORD_VERSION + 1}
    invalid = json.loads(make_record(2).to_json_line())
    del invalid["status"]
    path.write_bytes(b"".join([
        good.encode(), b"{not json\n", json.dumps({"hello": "world"}).encode() + b"\n",
        json.dumps(newer).encode() + b"\n", b"\n", json.dumps(invalid).encode() + b"\n", b"\xff\xfe\n", good.encode(),
    ]))
    result = read_records(path)
    assert len(result.records) == 2
    problems = {p.line: p.reason for p in result.problems}
    assert sorted(problems) == [2, 3, 4, 6, 7]
    assert "not JSON" in problems[2]
    assert "not an opsgym episode record" in problems[3]
    assert "newer" in problems[4] and "upgrade opsgym" in problems[4]
    assert "field status" in problems[6]
    assert "UTF-8" in problems[7]
    assert not any(p.torn for p in result.problems)


def test_a_missing_file_reads_as_no_records(tmp_path: Path):
    result = read_records(tmp_path / "nothing.jsonl")
    assert result.records == [] and result.problems == []


def test_non_finite_numbers_and_lone_surrogates_from_an_env_survive_the_round_trip(tmp_path: Path):
    nan, inf = float("nan"), float("inf")
    record = make_record(0, reward=nan, total_reward=-inf, metrics={"TaskEfficacy": nan, "inputs": {"cost": inf}},
                         observation0="pair \ud83d\ude00 lone \ud800 end")
    record.steps[0].reward = inf
    record.outcome.sim_time_s = nan  # nested models are written the same way
    record.llm_calls[0].cost_usd = inf
    path = tmp_path / "records.jsonl"
    with RecordWriter(path) as writer:
        writer.write(record)
    result = read_records(path)
    assert result.problems == []
    (back,) = result.records
    assert math.isnan(back.reward) and back.total_reward == -inf and back.steps[0].reward == inf
    assert math.isnan(back.metrics["TaskEfficacy"]) and back.metrics["inputs"] == {"cost": inf}
    assert math.isnan(back.outcome.sim_time_s) and back.llm_calls[0].cost_usd == inf
    assert back.observation0 == "pair \U0001f600 lone \ufffd end"  # a pair joins; a lone surrogate has no UTF-8 form


def test_a_line_where_an_earlier_version_wrote_nan_as_null_reads_back_as_nan(tmp_path: Path):
    line = json.loads(make_record(0).to_json_line())
    line["reward"] = None
    line["steps"][0]["reward"] = None
    line["outcome"]["sim_time_s"] = None
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(line) + "\n")
    result = read_records(path)
    assert result.problems == []
    (back,) = result.records
    assert math.isnan(back.reward) and math.isnan(back.steps[0].reward) and math.isnan(back.outcome.sim_time_s)


def test_a_line_nested_too_deep_for_the_parser_is_a_problem_not_a_crash(tmp_path: Path):
    path = tmp_path / "records.jsonl"
    ok = EpisodeRecord(status="completed", spec=RunSpec(run_id="r", episode_key="k", env_id="e", seed=0, agent="a"))
    path.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n" + ok.to_json_line())
    result = read_records(path)
    assert [r.spec.episode_key for r in result.records] == ["k"]
    assert [(p.line, p.reason) for p in result.problems] == [(1, "JSON nested too deeply to be an episode record")]
