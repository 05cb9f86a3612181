"""DiagCorrect and RootCauseCorrect: structured matching first, the LLM judge only for what it cannot settle."""

from __future__ import annotations

import pytest
from scoring_helpers import GROUND_TRUTH

from opsgym.llm.telemetry import LLMCall
from opsgym.scoring.correctness import diag_correct, root_cause_correct
from opsgym.scoring.judge import Judge


class ScriptedBackend:
    """A test double of an LLM backend: returns a fixed reply and remembers the messages it got."""

    name, model = "scripted", "scripted-judge"

    def __init__(self, reply: str) -> None:
        self.reply, self.seen = reply, []

    def chat(self, messages, **params):
        self.seen.append(messages)
        return LLMCall(backend=self.name, model=self.model, messages=messages, output=self.reply,
                       prompt_tokens=50, completion_tokens=12)


def test_an_object_root_cause_matches_kind_name_and_field():
    answer = {"root_cause": {"kind": "deploy", "name": "payment", "field": "spec.replicas"}}
    result = root_cause_correct(answer, GROUND_TRUTH)
    # an object answer is judged as an object: kind (alias), name and field all match
    assert result.score == 1.0 and result.method == "structured" and result.judge is None


def test_the_right_object_with_the_wrong_field_gets_partial_credit():
    result = root_cause_correct({"root_cause": {"kind": "Deployment", "name": "payment", "field": "image"}},
                                GROUND_TRUTH)
    assert 0.0 < result.score < 1.0 and "field spec.replicas" in result.missed


def test_the_wrong_object_gets_no_object_credit():
    result = root_cause_correct({"root_cause": {"kind": "Deployment", "name": "cart", "field": "replicas"}},
                                GROUND_TRUTH)
    assert "object Deployment/payment" in result.missed


def test_free_text_is_checked_for_name_field_and_keywords():
    text = {"root_cause": "the payment deployment was scaled to 0 replicas"}
    assert root_cause_correct(text, GROUND_TRUTH).score == 1.0
    vague = root_cause_correct({"root_cause": "something is wrong with the network"}, GROUND_TRUTH)
    assert vague.score == 0.0


def test_diagnosis_keyword_groups_each_count():
    assert diag_correct({"diagnosis": "checkout: payment refused connections"}, GROUND_TRUTH).score == 1.0
    assert diag_correct({"diagnosis": "checkout is slow"}, GROUND_TRUTH).score == 0.5
    assert diag_correct(None, GROUND_TRUTH).score == 0.0


def test_without_a_judge_nothing_is_invented():
    result = diag_correct({"diagnosis": "payments are failing"}, {"diagnosis": "payment is down"})
    assert result.score is None and result.judge is None and "judge" in result.note


def test_nothing_to_grade_is_not_applicable():
    assert diag_correct({"diagnosis": "x"}, {}).method == "not-applicable"


def test_the_judge_grades_free_text_and_its_verdict_is_recorded():
    backend = ScriptedBackend('{"verdict": "correct", "rationale": "same object, same cause"}')
    result = root_cause_correct({"root_cause": "payments have no running instances"}, GROUND_TRUTH, Judge(backend))
    assert result.method == "judge" and result.score == 1.0
    assert result.structured_score < 1.0  # keywords alone missed the paraphrase
    v = result.judge
    assert (v.verdict, v.rationale, v.backend, v.model) == ("correct", "same object, same cause", "scripted",
                                                            "scripted-judge")
    assert len(v.prompt_sha256) == 64 and "payments have no running instances" in backend.seen[0][1]["content"]


def test_the_judge_is_not_asked_when_structure_settles_it():
    backend = ScriptedBackend('{"verdict": "incorrect"}')
    result = root_cause_correct({"root_cause": {"kind": "Deployment", "name": "payment", "field": "replicas"}},
                                GROUND_TRUTH, Judge(backend))
    assert result.score == 1.0 and backend.seen == []


@pytest.mark.parametrize("reply, verdict", [
    ("Verdict: partial. It names the service but not the field.", "partial"),
    ('```json\n{"verdict": "incorrect", "rationale": "different cause"}\n```', "incorrect"),
])
def test_judge_replies_are_parsed_leniently(reply, verdict):
    result = root_cause_correct({"root_cause": "payments broke"}, GROUND_TRUTH, Judge(ScriptedBackend(reply)))
    assert result.judge.verdict == verdict


def test_an_unreadable_judge_reply_keeps_the_structured_score_and_says_why():
    result = root_cause_correct({"root_cause": "payment scaled weirdly"}, GROUND_TRUTH,
                                Judge(ScriptedBackend("I am not sure.")))
    assert result.method == "structured" and result.score == result.structured_score
    assert result.judge.verdict is None and "no single verdict" in result.judge.error


def test_a_reply_naming_several_verdicts_is_ambiguous_and_not_counted():
    reply = "The answer is partially correct, partially incorrect."
    result = root_cause_correct({"root_cause": "payments broke"}, GROUND_TRUTH, Judge(ScriptedBackend(reply)))
    assert result.judge.verdict is None and result.method == "structured"


@pytest.mark.parametrize("reply", [
    "The agent's answer is not correct: it blames the wrong Deployment.",
    "The answer is wrong; it cannot be considered correct.",
    "It isn't correct.",
    "This is not at all correct.",
    "Not even partially correct.",
    "Correct object, but the wrong field.",
])
def test_a_negated_or_contradicted_free_text_verdict_is_not_guessed(reply):
    result = root_cause_correct({"root_cause": "payments broke"}, GROUND_TRUTH, Judge(ScriptedBackend(reply)))
    assert result.judge.verdict is None and result.judge.score is None and result.method == "structured"
    assert "no single verdict" in result.judge.error


@pytest.mark.parametrize("reply, verdict", [
    ("The answer is correct.", "correct"),
    ("This is incorrectly diagnosed.", "incorrect"),
    ("Incorrect: the answer is wrong, it names the cart service.", "incorrect"),
    ("Partial. It names the service but not the field.", "partial"),
    ('{"verdict": "correct", "rationale": "it is not wrong"}', "correct"),  # JSON is read first, as sent
])
def test_a_plain_free_text_verdict_still_counts(reply, verdict):
    result = root_cause_correct({"root_cause": "payments broke"}, GROUND_TRUTH, Judge(ScriptedBackend(reply)))
    assert result.judge.verdict == verdict


@pytest.mark.slow
def test_the_judge_runs_through_a_real_registered_backend():
    """SmolLM2-135M through `hf-naive`: too small to trust its verdict, but the call, the model identity and the
    prompt hash must be recorded whatever it says (a verdict, or an error saying why there is none)."""
    from opsgym.errors import BackendUnavailableError
    from opsgym.llm.models import smollm2_gguf

    try:
        smollm2_gguf()
    except BackendUnavailableError as exc:  # the weights come from a package; without it there is no model
        pytest.skip(f"SmolLM2 weights unavailable: {exc}")
    judge = Judge("hf-naive")
    result = root_cause_correct({"root_cause": "payment has no running pods any more"}, GROUND_TRUTH, judge)
    v = result.judge
    assert v is not None and v.backend == "hf-naive" and "SmolLM2" in v.model and len(v.prompt_sha256) == 64
    assert v.raw_output and v.completion_tokens and v.completion_tokens > 0
    assert (v.verdict is not None and result.method == "judge") or (v.error and result.method == "structured")
