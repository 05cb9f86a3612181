"""A mitigation episode that leaves the incident in place cannot score on its answer alone (#15).

The profile's ``unresolved.answer_credit`` scales the diagnosis and root-cause credit of an unresolved episode and
``left-unresolved`` zeroes its Usefulness; both are data (profiles.yaml), recorded, and recomputable.
"""

from __future__ import annotations

import pytest
from scoring_helpers import GOOD_ANSWER, GROUND_TRUTH, outcome

from opsgym.errors import ScoringConfigError
from opsgym.scoring import recompute
from opsgym.scoring.metrics import answer_credit
from opsgym.scoring.profiles import load_profiles, resolve_profile
from opsgym.scoring.scorer import compute, gather_inputs

EXACT = {"diagnosis": GROUND_TRUTH["diagnosis"] + " (" + " ".join(w[0] for w in GROUND_TRUTH["diagnosis_keywords"])
         + ")", "root_cause": GROUND_TRUTH["root_cause"], "remediation": GROUND_TRUTH["remediation"]}
MITIGATION = ("sre", "ciso", "finops")


def score(o, profile="sre", weights=None):
    return compute(gather_inputs(o), resolve_profile(profile, run_overrides=weights))


@pytest.mark.parametrize("profile", MITIGATION)
def test_the_exact_answer_without_the_fix_stays_below_the_bound(profile):
    record = score(outcome(answer=EXACT, remediation=0.0), profile)
    assert record["components"]["DiagGraded"] == 1.0 and record["components"]["RootCauseGraded"] == 1.0
    assert record["Usefulness"] == 0.0 and record["TaskEfficacy"] < 0.3
    p = resolve_profile(profile)
    bound = p.lam * p.unresolved_answer_credit * (p.weights["accuracy"]["diag"] + p.weights["accuracy"]["rca"])
    assert record["TaskEfficacy"] == pytest.approx(bound)


@pytest.mark.parametrize("profile", MITIGATION)
def test_the_fix_with_the_answer_scores_one_and_beats_the_fix_with_a_vague_answer(profile):
    full = score(outcome(answer=EXACT), profile)
    vague = score(outcome(answer={"diagnosis": "something broke", "root_cause": "not sure", "remediation": "x"}),
                  profile)
    idle = score(outcome(answer=EXACT, remediation=0.0), profile)
    assert full["TaskEfficacy"] == 1.0 and full["components"]["AnswerCredit"] == 1.0
    assert idle["TaskEfficacy"] < vague["TaskEfficacy"] < full["TaskEfficacy"]


def test_the_credit_rises_linearly_with_a_partial_remediation():
    assert answer_credit(0.0, 0.5) == 0.5 and answer_credit(0.5, 0.5) == 0.75 and answer_credit(1.0, 0.5) == 1.0
    half = score(outcome(answer=GOOD_ANSWER, remediation=0.5))
    assert half["components"]["AnswerCredit"] == 0.75 and half["components"]["DiagCorrect"] == 0.75


def test_a_diagnosis_only_task_overrides_the_objective_and_gets_the_seed_formula_back():
    answer_only = {"unresolved": {"answer_credit": 1.0}, "penalties": {"left-unresolved": 0.0}}
    record = score(outcome(answer=EXACT, remediation=0.0), weights=answer_only)
    assert record["Accuracy"] == pytest.approx(0.75) and record["Usefulness"] == 1.0
    assert record["profile"]["overridden"] == ["penalties.left-unresolved", "unresolved.answer_credit"]


def test_the_factor_is_recorded_and_recompute_can_change_it():
    record = score(outcome(answer=EXACT, remediation=0.0))
    assert record["profile"]["factors"] == {"unresolved": {"answer_credit": 0.5}}
    lenient = recompute(record, {"unresolved": {"answer_credit": 1.0}})
    assert lenient["Accuracy"] == pytest.approx(0.75) and recompute(record)["TaskEfficacy"] == record["TaskEfficacy"]


def test_a_record_made_before_the_factor_existed_recomputes_to_its_old_score():
    record = score(outcome(answer=EXACT, remediation=0.0), weights={"unresolved": {"answer_credit": 1.0}})
    del record["profile"]["factors"]  # an old record's profile has no factors: neutral 1, the formula as written
    assert recompute(record)["Accuracy"] == pytest.approx(0.75)


@pytest.mark.parametrize("bad", [{"unresolved": {"answer_credit": 1.5}}, {"unresolved": {"answer_credit": "half"}},
                                 {"unresolved": {"share": 0.5}}])
def test_a_bad_factor_fails_naming_the_profile(bad):
    with pytest.raises(ScoringConfigError, match="'sre'"):
        resolve_profile("sre", run_overrides=bad)


def test_every_builtin_mitigation_profile_states_its_factor_and_swe_keeps_its_scores():
    profiles = load_profiles()
    assert all(profiles[p].unresolved_answer_credit < 1.0 and profiles[p].penalties["left-unresolved"] == 1.0
               for p in MITIGATION)
    assert profiles["swe"].unresolved_answer_credit == 1.0 and profiles["swe"].penalties["left-unresolved"] == 0.5
    failing = score(outcome(answer=None, remediation=0.0, domain="swe", profile="swe"), "swe")
    assert failing["TaskEfficacy"] == pytest.approx(0.3 * 0.5)  # unchanged: 0.7·0 + 0.3·(1 − 0.5)
