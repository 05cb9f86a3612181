"""Record files written before steps were stored once (version 1) still read, and report the same numbers.

The fixture ``tests/data/records-v1.jsonl`` was written by the version-1 code (git HEAD before issue #16 part 4):
a react agent on a scripted LLM, the oracle and the random agent on SRE-1. ``records-v1.expected.json`` holds what
that code's report frame and ``recompute`` gave for it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from opsgym.record import RECORD_VERSION, EpisodeRecord, read_records
from opsgym.report.frame import episodes_frame
from opsgym.scoring.profiles import Profile
from opsgym.scoring.scorer import compute, gather_inputs

DATA = Path(__file__).parent / "data"
V1 = DATA / "records-v1.jsonl"
RUNNER_FIELDS = ("reward", "agent_s", "env_s", "llm_call_ids", "observation_chars")


def _v1_lines() -> list[dict]:
    return [json.loads(line) for line in V1.read_text().splitlines()]


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_the_fixture_is_version_1_with_both_step_lists():
    for raw in _v1_lines():  # guards the fixture itself: it must keep showing the old layout
        assert raw["version"] == 1 and len(raw["steps"]) == len(raw["outcome"]["actions"]) > 0


def test_a_version_1_file_reads_whole_and_joins_each_runner_step_to_its_action():
    result = read_records(V1)
    assert not result.problems and len(result.records) == 3
    for record, raw in zip(result.records, _v1_lines(), strict=True):
        assert record.version == RECORD_VERSION
        assert len(record.steps) == len(raw["steps"])
        for step, old_step, old_action in zip(record.steps, raw["steps"], raw["outcome"]["actions"], strict=True):
            assert [getattr(step, k) for k in RUNNER_FIELDS] == [old_step[k] for k in RUNNER_FIELDS]
            assert (step.cls, step.verb, step.observation_sha256) == (old_action["cls"], old_action["verb"],
                                                                      old_action["observation_sha256"])
        assert [a.model_dump() for a in record.outcome.actions] == raw["outcome"]["actions"]
    react = result.records[0]
    assert [c.output for c in react.calls_for_step(0)] == [react.llm_calls[0].output]


def test_a_version_1_file_reports_the_numbers_the_version_1_code_reported():
    expected = json.loads((DATA / "records-v1.expected.json").read_text())["frame"]
    rows = episodes_frame(read_records(V1).records).to_dict(orient="records")
    for row, want in zip(rows, expected, strict=True):
        got = {k: row.get(k) for k in want}
        assert all(_same(got[k], want[k]) for k in want), {k: (got[k], want[k]) for k in want if got[k] != want[k]}


def test_a_converted_record_is_written_with_each_step_once_and_scores_the_same_again():
    for record, raw in zip(read_records(V1).records, _v1_lines(), strict=True):
        data = json.loads(record.to_json_line())
        assert data["version"] == RECORD_VERSION
        assert "actions" not in data["outcome"]  # one step list, which carries the env's half and the runner's
        for step in data["steps"]:
            assert {"cls", "verb", "targets", "flags", "detail", "wall_time_s", *RUNNER_FIELDS} <= set(step)
        again = EpisodeRecord.model_validate_json(record.to_json_line())
        assert again.outcome == record.outcome and again.steps == record.steps
        # penalties and correctness come from the actions: the same firings as the version-1 code found
        inputs = gather_inputs(again.outcome, llm=again.llm_summary or None)
        stored = raw["metrics"]["inputs"]
        assert [f.model_dump() for f in inputs.firings] == stored["firings"]
        assert inputs.diag.score == stored["diag"]["score"] and inputs.infra_cost_usd == stored["infra_cost_usd"]
        metrics = compute(inputs, Profile.model_validate(raw["metrics"]["profile"]))
        assert metrics["Accuracy"] == raw["metrics"]["Accuracy"]
        assert metrics["Usefulness"] == raw["metrics"]["Usefulness"]


def test_opsgym_report_and_export_read_a_version_1_run_directory(tmp_path):
    import csv
    import shutil

    from opsgym.report import write_report
    from opsgym.report.export import export_episodes

    run = tmp_path / "old-run"
    run.mkdir()
    shutil.copy(V1, run / "records.jsonl")  # a run directory as the version-1 code left it (no plan needed)
    html = write_report(run).read_text()
    assert "react-0" in html and "oracle-1" in html
    expected = json.loads((DATA / "records-v1.expected.json").read_text())["frame"]
    with open(export_episodes(run, "csv"), newline="") as f:
        rows = {row["episode_key"]: row for row in csv.DictReader(f)}
    for want in expected:
        row = rows[want["episode_key"]]
        assert float(row["metrics.TaskEfficacy"]) == want["metrics.TaskEfficacy"]  # CSV keeps every digit
        assert int(row["steps"]) == want["steps"] and float(row["agent_s"]) == want["agent_s"]
