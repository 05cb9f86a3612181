"""The metrics record is a typed model with its own version, apart from the episode record's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from scoring_helpers import GOOD_ANSWER, outcome

from opsgym import record
from opsgym.scoring import scorer
from opsgym.scoring.profiles import resolve_profile
from opsgym.scoring.scorer import METRIC_NAMES, METRICS_VERSION, MetricsRecord, compute, gather_inputs, recompute

V1_RECORDS = Path(__file__).parents[1] / "data" / "records-v1.jsonl"
V1_EXPECTED = Path(__file__).parents[1] / "data" / "records-v1.expected.json"


def test_the_metrics_version_is_its_own_constant_not_the_episode_records():
    assert not hasattr(scorer, "RECORD_VERSION")  # one name, one meaning: the episode record's lives in record.py
    assert METRICS_VERSION == 1 and record.RECORD_VERSION == 2  # they moved apart: steps changed, metrics did not
    metrics = compute(gather_inputs(outcome(answer=GOOD_ANSWER)), resolve_profile("sre"))
    assert metrics["version"] == METRICS_VERSION


def test_compute_gives_a_metrics_record_as_a_plain_dict_in_the_old_key_order():
    metrics = compute(gather_inputs(outcome(answer=GOOD_ANSWER)), resolve_profile("sre"))
    assert type(metrics) is dict  # info["metrics"] stays a plain, JSON-ready dict
    assert list(metrics)[:11] == ["version", *METRIC_NAMES, "reward_metric", "reward", "profile"]
    typed = MetricsRecord.model_validate(metrics)
    assert typed.TaskEfficacy == metrics["TaskEfficacy"] == 1.0 and typed.reward == 1.0
    assert json.loads(json.dumps(metrics)) == metrics


def test_a_metrics_record_missing_a_score_is_refused():
    metrics = compute(gather_inputs(outcome(answer=GOOD_ANSWER)), resolve_profile("sre"))
    del metrics["Accuracy"]
    with pytest.raises(ValidationError, match="Accuracy"):
        MetricsRecord.model_validate(metrics)


def test_metrics_stored_by_the_version_1_code_validate_and_recompute_to_the_same_scores():
    stored = [json.loads(line)["metrics"] for line in V1_RECORDS.read_text().splitlines()]
    expected = json.loads(V1_EXPECTED.read_text())
    for metrics, same, heavy in zip(stored, expected["recompute"], expected["recompute_rca_heavy"], strict=True):
        assert MetricsRecord.model_validate(metrics).version == 1
        assert {k: recompute(metrics)[k] for k in METRIC_NAMES} == same
        reweighted = recompute(metrics, {"accuracy": {"diag": 0.1, "rca": 0.8, "rem": 0.1}})
        assert {k: reweighted[k] for k in METRIC_NAMES} == heavy
