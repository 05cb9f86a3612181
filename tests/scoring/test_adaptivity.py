"""Adaptivity from paired episodes: the oracle is unaffected by drift, a field-grepping agent is not."""

from __future__ import annotations

import pytest
from scoring_helpers import FieldGrepper, ToyOracle

from opsgym.errors import ScoringConfigError
from opsgym.scoring import adaptivity


def test_the_oracle_is_perfectly_robust(toy_env_id):
    report = adaptivity(toy_env_id, ToyOracle(), ["schema-change", "log-format", "reorder-fields+noise"], [0, 1])
    assert report.value == 1.0 and report.defined == 6 and report.undefined == 0
    assert {t["perturbation"] for t in report.terms} == {"schema-change", "log-format", "reorder-fields+noise"}


def test_an_agent_that_greps_a_fixed_field_name_loses_adaptivity(toy_env_id):
    report = adaptivity(toy_env_id, FieldGrepper(), ["schema-change", "reorder-fields"], [0, 1, 2])
    base = [e.task_efficacy for e in report.episodes if e.perturbation is None]
    assert base == [1.0, 1.0, 1.0]  # it solves the unperturbed task every time
    renamed = [t["term"] for t in report.terms if t["perturbation"] == "schema-change"]
    reordered = [t["term"] for t in report.terms if t["perturbation"] == "reorder-fields"]
    assert max(renamed) < 1.0  # "dependency" is renamed: its grep finds nothing
    assert reordered == [1.0, 1.0, 1.0]  # the same fields in another order do not fool it
    assert report.value < 1.0


def test_an_agent_that_fails_the_unperturbed_task_has_undefined_adaptivity(toy_env_id):
    class GivesUp:
        def reset(self, **kw):
            pass

        def act(self, observation, info):
            return 'submit {"diagnosis": "", "root_cause": "", "remediation": ""}'

    report = adaptivity(toy_env_id, GivesUp(), ["noise"], [0], weights={
        "task_efficacy": {"accuracy": 1.0, "usefulness": 0.0}})
    assert report.value is None and report.undefined == 1 and "TaskEfficacy 0" in report.reason
    assert report.terms[0]["ratio"] is None


def test_adaptivity_needs_variants_and_seeds(toy_env_id):
    with pytest.raises(ScoringConfigError):
        adaptivity(toy_env_id, ToyOracle(), [], [0])
    with pytest.raises(ScoringConfigError):
        adaptivity(toy_env_id, ToyOracle(), ["noise"], [])
