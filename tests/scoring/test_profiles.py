"""Profiles are data, validated, and overridable per task and per run."""

from __future__ import annotations

import pytest

from opsgym.errors import ScoringConfigError, UnknownNameError
from opsgym.scoring.profiles import load_profiles, resolve_profile


def test_the_four_profiles_load_and_every_formula_sums_to_one():
    profiles = load_profiles()
    assert set(profiles) == {"sre", "ciso", "finops", "swe"}
    for profile in profiles.values():
        for weights in profile.weights.values():
            assert sum(weights.values()) == pytest.approx(1.0)


def test_task_overrides_then_run_overrides_are_merged_key_by_key():
    profile = resolve_profile("sre", task_overrides={"accuracy": {"diag": 0.1, "rca": 0.8, "rem": 0.1}},
                              run_overrides={"penalties": {"scale-to-zero": 0.9},
                                             "task_efficacy": {"accuracy": 1.0, "usefulness": 0.0}})
    assert profile.weights["accuracy"] == {"diag": 0.1, "rca": 0.8, "rem": 0.1}
    assert profile.lam == 1.0 and profile.penalties["scale-to-zero"] == 0.9
    assert profile.weights["comp_eff"] == load_profiles()["sre"].weights["comp_eff"]  # untouched
    assert "accuracy.rca" in profile.overridden and "penalties.scale-to-zero" in profile.overridden


def test_a_partial_override_that_breaks_the_sum_fails_naming_profile_and_weights():
    with pytest.raises(ScoringConfigError) as err:
        resolve_profile("ciso", run_overrides={"accuracy": {"rca": 0.9}})
    assert "'ciso'" in str(err.value) and "'rca': 0.9" in str(err.value) and "sum to" in str(err.value)


@pytest.mark.parametrize("override, message", [
    ({"acuracy": {"diag": 1.0}}, "unknown formula 'acuracy'"),
    ({"penalties": {"scale-to-zeroo": 0.5}}, "unknown penalty rules"),
    ({"penalties": {"scale-to-zero": 2.0}}, "must be in [0, 1]"),
])
def test_bad_overrides_say_what_is_wrong(override, message):
    with pytest.raises(ScoringConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        resolve_profile("sre", run_overrides=override)


def test_an_unknown_profile_suggests_a_name():
    with pytest.raises(UnknownNameError, match="'sre'"):
        resolve_profile("sr")


def test_an_inline_profile_is_validated_like_a_file_one():
    inline = {"name": "mine", **{g: dict(w) for g, w in load_profiles()["swe"].weights.items()}}
    assert resolve_profile(inline).name == "mine"
    inline["efficiency"] = {"comp": 1.0, "econ": 1.0, "op": 0.0}
    with pytest.raises(ScoringConfigError, match="'mine'"):
        resolve_profile(inline)
