"""Chain match: a structured chain is scored by its longest common subsequence with the truth, free text by the
order of its mentions; the match is reported beside the correctness components and changes no score."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from scoring_helpers import GOOD_ANSWER, GROUND_TRUTH, outcome

from opsgym.outcome import Answer
from opsgym.scoring.chain import chain_match, common_subsequence, mention_order
from opsgym.scoring.profiles import resolve_profile
from opsgym.scoring.scorer import compute, gather_inputs, recompute

CHAIN = ["frontend", "checkout", "payment"]
TRUTH = {**GROUND_TRUTH, "chain": CHAIN}


def test_the_longest_common_subsequence():
    assert common_subsequence(["a", "b", "c"], ["a", "b", "c"]) == 3
    assert common_subsequence(["a", "x", "c"], ["a", "b", "c"]) == 2
    assert common_subsequence(["c", "b", "a"], ["a", "b", "c"]) == 1
    assert common_subsequence([], ["a"]) == 0


@pytest.mark.parametrize(("given", "score", "exact", "precision"), [
    (CHAIN, 1.0, True, 1.0),
    (["Deployment/Frontend", "svc/checkout", " PAYMENT "], 1.0, True, 1.0),  # kind prefixes and case are not names
    (["frontend", "payment"], 2 / 3, False, 1.0),  # a skipped hop costs that hop
    (["payment", "checkout", "frontend"], 1 / 3, False, 1 / 3),  # backwards: the structured chain has a direction
    (["frontend", "cart", "checkout", "kv", "payment"], 1.0, False, 0.6),  # padding shows in precision, not exact
    (["cart"], 0.0, False, 0.0),
])
def test_a_structured_chain_is_scored_by_its_common_subsequence(given: list[str], score: float, exact: bool,
                                                               precision: float):
    match = chain_match({"diagnosis": "frontend, checkout and payment", "chain": given}, TRUTH)
    assert match is not None and match.source == "structured"
    assert (match.score, match.exact, match.precision) == (pytest.approx(score), exact, pytest.approx(precision))


def test_without_a_chain_the_text_is_read_in_order_of_first_mention():
    match = chain_match({"diagnosis": "frontend answers 502 because checkout times out calling payment; frontend "
                                      "retries"}, TRUTH)
    assert match is not None and match.source == "text" and match.given == CHAIN
    assert match.score == 1.0 and match.exact and match.direction == "forward"


def test_the_text_may_tell_the_cascade_from_the_root_up():
    match = chain_match({"diagnosis": "payment lost its datastore, so checkout failed and frontend served 5xx"}, TRUTH)
    assert match is not None and match.given == ["payment", "checkout", "frontend"]
    assert match.direction == "reverse" and match.exact and match.score == 1.0


def test_the_text_gets_credit_only_for_the_hops_it_names_in_order():
    skipped = chain_match({"diagnosis": "frontend is failing; the payments service is down"}, TRUTH)
    assert skipped is not None and skipped.given == ["frontend", "payment"] and skipped.score == pytest.approx(2 / 3)
    jumbled = chain_match({"diagnosis": "checkout, then frontend, then payment"}, TRUTH)
    assert jumbled is not None and jumbled.score == pytest.approx(2 / 3) and not jumbled.exact
    silent = chain_match({"diagnosis": "something is broken"}, TRUTH)
    assert silent is not None and silent.given == [] and silent.score == 0.0 and silent.precision is None


def test_a_root_cause_named_apart_from_the_diagnosis_ends_the_text_chain():
    answer = {"diagnosis": "frontend 5xx from checkout timeouts", "root_cause": {"kind": "Deployment",
                                                                                 "name": "payment"}}
    match = chain_match(answer, TRUTH)
    assert match is not None and match.given == CHAIN and match.exact


def test_a_longer_service_name_is_not_read_as_the_shorter_one():
    assert mention_order("checkout-db is full", ["checkout", "checkout-db"]) == ["checkout-db"]
    assert mention_order("checkout-db is full, so checkout fails", ["checkout", "checkout-db"]) == [
        "checkout-db", "checkout"]


def test_an_empty_chain_falls_back_to_the_text_and_no_truth_chain_means_no_match():
    match = chain_match({"diagnosis": "frontend, checkout, payment", "chain": []}, TRUTH)
    assert match is not None and match.source == "text" and match.exact
    assert chain_match({"chain": CHAIN}, GROUND_TRUTH) is None
    assert chain_match(None, TRUTH) is not None and chain_match(None, TRUTH).score == 0.0


def test_the_answer_takes_a_chain_as_a_list_of_names_only():
    assert Answer.model_validate({"diagnosis": "d", "chain": CHAIN}).chain == CHAIN
    assert Answer.model_validate({"diagnosis": "d"}).chain is None
    with pytest.raises(ValidationError, match="chain"):
        Answer.model_validate({"diagnosis": "d", "chain": "frontend -> checkout -> payment"})


def test_the_match_is_reported_beside_root_cause_and_changes_no_score():
    profile = resolve_profile("sre")
    traced = compute(gather_inputs(outcome(answer={**GOOD_ANSWER, "chain": CHAIN}, ground_truth=TRUTH)), profile)
    plain = compute(gather_inputs(outcome(answer=GOOD_ANSWER, ground_truth=GROUND_TRUTH)), profile)
    wrong = compute(gather_inputs(outcome(answer={**GOOD_ANSWER, "chain": ["cart"]}, ground_truth=TRUTH)), profile)
    for name in ("TaskEfficacy", "Accuracy", "Usefulness"):
        assert traced[name] == plain[name] == wrong[name]
    assert traced["components"]["ChainMatch"] == 1.0 and traced["components"]["ChainExact"] is True
    assert wrong["components"]["ChainMatch"] == 0.0 and wrong["components"]["ChainExact"] is False
    assert plain["components"]["ChainMatch"] is None and plain["inputs"]["chain"] is None
    assert traced["inputs"]["chain"]["source"] == "structured"
    assert recompute(traced)["components"] == traced["components"]


def test_entity_recall_is_reported_beside_precision():
    answer = {**GOOD_ANSWER, "root_cause": "payment was scaled to zero replicas"}
    record = compute(gather_inputs(outcome(answer=answer, extra={"entities": ["payment", "cart", "checkout"]})),
                     resolve_profile("sre"))
    components = record["components"]
    assert components["RootCausePrecision"] == 1.0 and components["RootCauseRecall"] is not None
    assert components["DiagRecall"] == record["inputs"]["diag"]["entities"]["recall"]
