"""From an outcome to a metrics record: inputs beside scores, unknowns recorded, recompute with other weights."""

from __future__ import annotations

import pytest
from scoring_helpers import GOOD_ANSWER, action, outcome

from opsgym.llm.telemetry import Ledger, LLMCall
from opsgym.scoring import recompute
from opsgym.scoring.profiles import resolve_profile
from opsgym.scoring.scorer import compute, gather_inputs


def score(o, profile="sre", **kw):
    return compute(gather_inputs(o, **kw), resolve_profile(profile))


def test_a_perfect_episode_scores_one_on_task_efficacy_with_its_inputs_beside():
    record = score(outcome(answer=GOOD_ANSWER))
    assert record["TaskEfficacy"] == 1.0 and record["Accuracy"] == 1.0 and record["Usefulness"] == 1.0
    assert record["components"]["RemediationCorrect"] == 1.0
    assert record["profile"]["name"] == "sre" and record["profile"]["weights"]["accuracy"]["rca"] == 0.5
    assert record["judge"] is None and record["inputs"]["diag"]["method"] == "structured"


def test_remediation_comes_from_the_end_state_not_the_claim():
    claim = {**GOOD_ANSWER, "remediation": "fixed it, everything is green"}
    record = score(outcome(answer=claim, remediation=0.0))
    # the right diagnosis and root cause (0.25 + 0.5) keep the sre profile's unresolved answer credit, 0.5 (#15)
    assert record["components"]["RemediationCorrect"] == 0.0 and record["Accuracy"] == pytest.approx(0.375)
    assert record["components"]["DiagGraded"] == 1.0 and record["components"]["AnswerCredit"] == 0.5


def test_hint_use_lowers_op_eff():
    alone = score(outcome(answer=GOOD_ANSWER, interventions=0))
    helped = score(outcome(answer=GOOD_ANSWER, interventions=2))
    assert alone["OpEff"] == 1.0 and helped["OpEff"] == pytest.approx(1 / 3)
    assert helped["Efficiency"] < alone["Efficiency"]


def test_without_llm_telemetry_inference_cost_is_unknown_not_zero():
    record = score(outcome(answer=GOOD_ANSWER))
    assert record["inputs"]["inference_cost_usd"] is None and "InferenceCost" in record["unknown"]
    assert "unknown" in record["inputs"]["inference_method"]
    assert record["components"]["InferenceCostScore"] is None and record["EconEff"] is not None


def test_paper_table_6_costs_from_the_ledger_and_a_price_table():
    """Seed Table 6: 648,971 prompt + 8,301 generated tokens ≈ $1.70 at GPT-4o prices; 422 s on an L4 ≈ $0.09."""
    calls = [LLMCall(backend="vllm", prompt_tokens=648_971, cached_prompt_tokens=0, completion_tokens=8_301,
                     latency_s=422.0)]
    llm = Ledger(calls=calls).summary()
    api = gather_inputs(outcome(answer=GOOD_ANSWER), llm=llm, price="gpt-4o").inference_cost_usd
    gpu = gather_inputs(outcome(answer=GOOD_ANSWER), llm=llm, price="l4").inference_cost_usd
    assert api == pytest.approx(1.705, abs=0.01) and gpu == pytest.approx(0.0938, abs=0.001)
    assert api / gpu == pytest.approx(18, rel=0.05)  # the seed's "≈ 18× more"
    cheap = score(outcome(answer=GOOD_ANSWER), llm=llm, price="l4")
    dear = score(outcome(answer=GOOD_ANSWER), llm=llm, price="gpt-4o")
    assert dear["EconEff"] < cheap["EconEff"]


def test_time_to_solution_on_a_virtual_clock_adds_the_agents_own_time():
    o = outcome(answer=GOOD_ANSWER, actions=[action(0, "kubectl get pods", wall=0.5)], sim_time_s=120.0,
                wall_time_s=3.0)
    inputs = gather_inputs(o)
    assert inputs.virtual_clock and inputs.agent_time_s == pytest.approx(2.5)
    assert inputs.time_to_solution_s == pytest.approx(122.5)
    real = gather_inputs(outcome(answer=GOOD_ANSWER, backend="kind", sim_time_s=40.0, wall_time_s=40.0))
    assert not real.virtual_clock and real.time_to_solution_s == 40.0


def test_infra_cost_is_zero_without_cost_bearing_actions_and_unknown_with_unpriced_ones():
    assert gather_inputs(outcome()).infra_cost_usd == 0.0
    scaled = outcome(actions=[action(0, "kubectl scale deploy/checkout --replicas=8", "mutate")])
    assert gather_inputs(scaled).infra_cost_usd is None
    priced = outcome(actions=[action(0, "kubectl scale deploy/checkout --replicas=8", "mutate",
                                     detail={"infra_cost_usd": 0.04})])
    assert gather_inputs(priced).infra_cost_usd == 0.04


@pytest.mark.parametrize("text", ["run echo resources", "edit src/resources.py 1:1\nx = 1",
                                  "kubectl label deploy checkout team=resources"])
def test_infra_cost_stays_zero_when_an_action_only_mentions_resources(text):
    """Only a kubectl change to replicas or resources can add infrastructure; a word in the text adds nothing."""
    o = outcome(actions=[action(0, text, "mutate")])
    assert gather_inputs(o).infra_cost_usd == 0.0
    assert "InfraCost" not in score(o)["unknown"]


def test_recompute_with_other_weights_changes_only_what_they_touch():
    record = score(outcome(answer={**GOOD_ANSWER, "root_cause": "no idea"}))
    assert record["Accuracy"] == pytest.approx(0.25 + 0.25)  # diag right, root cause wrong, remediation right
    heavy = recompute(record, {"accuracy": {"diag": 0.0, "rca": 1.0, "rem": 0.0}})
    assert heavy["Accuracy"] == 0.0 and heavy["Usefulness"] == record["Usefulness"]
    assert recompute(record)["Accuracy"] == record["Accuracy"]
    assert recompute(record, profile="ciso")["profile"]["name"] == "ciso"
    assert heavy["profile"]["overridden"] == ["accuracy.diag", "accuracy.rca", "accuracy.rem"]


def test_recompute_reweights_penalties_from_the_stored_firings():
    bad = outcome(answer=GOOD_ANSWER, actions=[action(0, "kubectl delete svc payment", "destructive")])
    record = score(bad)
    lenient = recompute(record, {"penalties": {"delete-service": 0.0}})
    assert record["Usefulness"] == 0.5 and lenient["Usefulness"] == 1.0
    assert lenient["penalties"][0]["rule"] == "delete-service"  # still listed, with weight 0


def test_simulated_time_is_taken_as_the_scenario_reports_it():
    # the scenario's clock already leaves out its judging (tests/sre/test_scenario.py); settle/stable figures in extra
    # describe the judging and must not be taken off a second time
    o = outcome(answer=GOOD_ANSWER, sim_time_s=40.0, wall_time_s=1.0, extra={"settle_s": 240.0, "stable_s": 60.0})
    assert gather_inputs(o).time_to_solution_s == pytest.approx(41.0)
