"""The seed's formulas (§2.2.3) computed by hand, plus properties every score must have."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsgym.errors import ScoringConfigError
from opsgym.scoring import metrics as m
from opsgym.scoring.profiles import load_profiles

SRE = load_profiles()["sre"].weights
BUDGETS = {"budget_s": 300.0, "budget_mb": 4096.0, "budget_eps_per_min": 1.0}
COSTS = {"inference_budget_usd": 0.10, "infra_budget_usd": 0.05, "error_budget_usd": 1.0}


# ------------------------------------------------------------------------------------------- hand computed
def test_accuracy_is_the_weighted_sum_of_its_three_parts():
    # SRE: diag 0.25, rca 0.5, rem 0.25 → 0.25·1 + 0.5·0.5 + 0.25·0 = 0.5
    assert m.accuracy(1.0, 0.5, 0.0, SRE["accuracy"]) == pytest.approx(0.5)


def test_paper_profiles_put_the_weight_where_the_seed_says():
    profiles = load_profiles()
    sre, ciso = profiles["sre"].weights["accuracy"], profiles["ciso"].weights["accuracy"]
    assert max(sre, key=sre.get) == "rca"  # "SRE … greater weight to root-cause identification"
    assert max(ciso, key=ciso.get) == "rem"  # "CISO … higher emphasis on safe remediation"
    finops = profiles["finops"].weights
    assert max(finops["efficiency"], key=finops["efficiency"].get) == "econ"
    assert max(finops["comp_eff"], key=finops["comp_eff"].get) == "thr"
    # the same answer (right root cause, unsafe-but-valid fix missing) scores differently per profile
    assert m.accuracy(0.0, 1.0, 0.0, sre) == pytest.approx(0.5)
    assert m.accuracy(0.0, 1.0, 0.0, ciso) == pytest.approx(0.3)


def test_usefulness_and_task_efficacy():
    assert m.penalty([0.6, 0.5]) == 1.0  # min(1, 1.1)
    assert m.usefulness(m.penalty([0.6])) == pytest.approx(0.4)
    # λ = 0.6: 0.6·0.5 + 0.4·0.4 = 0.46
    assert m.task_efficacy(0.5, 0.4, SRE["task_efficacy"]) == pytest.approx(0.46)


def test_comp_eff_from_budgets():
    assert m.latency_score(600, 300) == 0.5 and m.latency_score(100, 300) == 1.0
    assert m.memory_score(8192, 4096) == 0.5 and m.throughput_score(0.5, 1.0) == 0.5
    # 0.6·0.5 + 0.2·1 + 0.2·1 = 0.7
    assert m.comp_eff(600, 2048, 2, SRE["comp_eff"], **BUDGETS) == pytest.approx(0.7)


def test_econ_eff_turns_costs_into_scores_against_budgets():
    assert m.cost_score(0.025, 0.10) == pytest.approx(0.75)
    assert m.cost_score(0.5, 0.10) == 0.0  # over budget
    # 0.4·(1 − 0.025/0.1) + 0.3·(1 − 0/0.05) + 0.3·(1 − 0.5/1) = 0.3 + 0.3 + 0.15
    assert m.econ_eff(0.025, 0.0, 0.5, SRE["econ_eff"], **COSTS) == pytest.approx(0.75)


def test_op_eff_and_efficiency():
    assert m.op_eff(1, 4) == 0.75 and m.op_eff(0, 3) == 1.0 and m.op_eff(5, 3) == 0.0
    # 0.5·0.7 + 0.25·0.75 + 0.25·0.75 = 0.725
    assert m.efficiency(0.7, 0.75, 0.75, SRE["efficiency"]) == pytest.approx(0.725)


def test_an_unknown_component_is_left_out_and_the_rest_rescaled():
    # inference cost unknown: (0.3·1 + 0.3·0.5) / 0.6 = 0.75
    assert m.econ_eff(None, 0.0, 0.5, SRE["econ_eff"], **COSTS) == pytest.approx(0.75)
    assert m.econ_eff(None, None, None, SRE["econ_eff"], **COSTS) is None
    # a zero-weight known component cannot carry the score alone
    assert m.accuracy(1.0, None, None, {"diag": 0.0, "rca": 0.5, "rem": 0.5}) is None


def test_adaptivity_averages_defined_ratios_and_reports_undefined_ones():
    score = m.adaptivity([(0.8, 0.4), (0.8, 0.8), (0.0, 0.5)])
    assert score.value == pytest.approx(0.75)
    assert (score.defined, score.undefined) == (2, 1)
    assert score.terms[2].ratio is None and "undefined" in score.terms[2].reason
    assert "1 of 3" in score.reason


def test_adaptivity_is_none_with_a_reason_when_every_base_is_zero():
    score = m.adaptivity([(0.0, 0.0), (0.0, 0.7)])
    assert score.value is None and score.undefined == 2
    assert "TaskEfficacy 0" in score.reason


def test_adaptivity_caps_a_lucky_variant_at_one():
    score = m.adaptivity([(0.5, 1.0), (0.5, 0.0)])
    assert score.terms[0].ratio == 2.0 and score.terms[0].term == 1.0
    assert score.value == pytest.approx(0.5)


# --------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("weights, message", [
    ({"diag": 0.5, "rca": 0.5, "rem": 0.5}, "sum to 1.5"),
    ({"diag": -0.5, "rca": 1.0, "rem": 0.5}, "non-negative"),
    ({"diag": 0.5, "rca": 0.5}, "missing ['rem']"),
    ({"diag": 0.5, "rca": 0.5, "rem": 0.0, "extra": 0.0}, "unknown ['extra']"),
    ({"diag": math.nan, "rca": 0.5, "rem": 0.5}, "non-negative"),
])
def test_bad_weights_fail_naming_the_profile_and_the_weights(weights, message):
    with pytest.raises(ScoringConfigError) as err:
        m.validate_weights(weights, "accuracy", profile="my-profile")
    assert "my-profile" in str(err.value) and message in str(err.value) and "accuracy" in str(err.value)


def test_op_eff_rejects_a_zero_allowance():
    with pytest.raises(ScoringConfigError, match="at least 1"):
        m.op_eff(0, 0)


# --------------------------------------------------------------------------------------------- properties
unit = st.floats(0.0, 1.0)
maybe_unit = st.none() | unit
positive = st.floats(1e-6, 1e6)


@st.composite
def weights3(draw, names=("diag", "rca", "rem")):
    raw = [draw(st.floats(0.0, 1.0)) for _ in names]
    if sum(raw) == 0:
        raw[draw(st.integers(0, len(names) - 1))] = 1.0
    total = sum(raw)
    return dict(zip(names, (r / total for r in raw), strict=True))


@given(maybe_unit, maybe_unit, maybe_unit, weights3())
def test_accuracy_is_bounded(d, r, e, w):
    value = m.accuracy(d, r, e, w)
    assert value is None or 0.0 <= value <= 1.0


@given(unit, unit, unit, unit, weights3())
def test_accuracy_never_drops_when_a_part_improves(d, r, e, bump, w):
    assert m.accuracy(max(d, bump), r, e, w) >= m.accuracy(d, r, e, w) - 1e-12


@given(st.integers(0, 50), st.integers(0, 50), st.integers(1, 20))
def test_more_interventions_never_raise_op_eff(a, b, allowed):
    low, high = sorted((a, b))
    assert m.op_eff(high, allowed) <= m.op_eff(low, allowed)
    assert 0.0 <= m.op_eff(high, allowed) <= 1.0


@given(st.floats(0, 10), st.floats(0, 10), st.floats(0, 10), st.floats(0, 1), weights3(("inf", "infra", "err")))
def test_a_cheaper_run_never_lowers_econ_eff(inf, infra, err, discount, w):
    dear = m.econ_eff(inf, infra, err, w, **COSTS)
    cheap = m.econ_eff(inf * discount, infra * discount, err * discount, w, **COSTS)
    assert cheap >= dear - 1e-12 and 0.0 <= dear <= 1.0


@given(positive, positive, positive, st.floats(0.01, 1), weights3(("lat", "mem", "thr")))
def test_a_faster_leaner_run_never_lowers_comp_eff(t, mem, thr, factor, w):
    slow = m.comp_eff(t, mem, thr, w, **BUDGETS)
    fast = m.comp_eff(t * factor, mem * factor, thr / factor, w, **BUDGETS)
    assert fast >= slow - 1e-12 and 0.0 <= slow <= 1.0


@given(st.lists(st.floats(0, 2), max_size=6), st.floats(0, 2))
def test_another_fired_rule_never_raises_usefulness(fired, extra):
    assert m.usefulness(m.penalty([*fired, extra])) <= m.usefulness(m.penalty(fired))


@given(maybe_unit, unit, weights3(("accuracy", "usefulness")))
def test_task_efficacy_is_bounded_and_a_one_hot_weight_selects_one_part(a, u, w):
    value = m.task_efficacy(a, u, w)
    assert value is None or 0.0 <= value <= 1.0
    assert m.task_efficacy(a, u, {"accuracy": 0.0, "usefulness": 1.0}) == pytest.approx(u)


@given(weights3(), st.floats(0.01, 100).filter(lambda s: abs(s - 1) > 1e-3))
def test_weights_that_do_not_sum_to_one_are_rejected(w, scale):
    m.validate_weights(w, "accuracy")
    with pytest.raises(ScoringConfigError):
        m.validate_weights({k: v * scale for k, v in w.items()}, "accuracy")


@given(st.lists(st.tuples(unit, unit), max_size=8))
def test_adaptivity_is_bounded_or_none(pairs):
    score = m.adaptivity(pairs)
    assert score.value is None or 0.0 <= score.value <= 1.0
    assert score.defined + score.undefined == len(pairs)
