"""Planning: the matrix expands to stable episodes, and every misspelt name fails before anything runs."""

from __future__ import annotations

import gymnasium as gym
import opsgym_doubles
import pytest
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.errors import OpsGymError, UnknownNameError
from opsgym.runner import AgentSpec, RunPlan, parse_agent, parse_seeds, resolve_env_ids

ENV = opsgym_doubles.ENV_ID


@pytest.fixture(scope="module", autouse=True)
def second_double():
    gym.register("opsgym-test/Double-v1", entry_point="opsgym_doubles:DoubleEnv")
    yield
    gym.registry.pop("opsgym-test/Double-v1")


def test_agent_options_and_seed_lists_parse_into_values():
    assert parse_agent("random:max_words=6,flag=true,name=abc") == AgentSpec(
        name="random", config={"max_words": 6, "flag": True, "name": "abc"})
    assert parse_seeds("0-3,7,2") == [0, 1, 2, 3, 7]
    for bad in ("3-1", "x", "-2", ""):
        with pytest.raises(OpsGymError):
            parse_seeds(bad)
    with pytest.raises(OpsGymError, match="key=value"):
        parse_agent("random:oops")


def test_env_patterns_expand_globs_keep_order_and_drop_duplicates():
    ids = resolve_env_ids(["opsgym_doubles:opsgym-test/Double-*", "opsgym-test/Double-v0"])
    assert ids == ["opsgym_doubles:opsgym-test/Double-v0", "opsgym_doubles:opsgym-test/Double-v1",
                   "opsgym-test/Double-v0"]


def test_unknown_env_fails_with_a_suggestion():
    with pytest.raises(UnknownNameError, match="Did you mean 'opsgym-test/Double-v0'"):
        resolve_env_ids(["opsgym-test/Dubble-v0"])
    with pytest.raises(UnknownNameError):
        resolve_env_ids(["opsgym-test/Nothing-*"])


@pytest.mark.parametrize(("change", "message"), [
    ({"agents": [AgentSpec(name="orcale")]}, "Did you mean 'oracle'"),
    ({"perturbations": ["reorder-feilds"]}, "Did you mean 'reorder-fields'"),
    ({"agents": [AgentSpec(name="react")], "llms": ["opneai:http://127.0.0.1:1/v1"]}, "Did you mean 'openai'"),
    ({"agents": [AgentSpec(name="random", config={"max_wrds": 3})]}, "max_wrds"),
    ({"llms": ["openai:http://127.0.0.1:1/v1"]}, "none of the agents"),
])
def test_unknown_names_and_options_fail_before_any_episode(change, message):
    plan = RunPlan(envs=[ENV], seeds=[0], agents=[AgentSpec(name="oracle")]).model_copy(update=change)
    with pytest.raises(OpsGymError, match=message):
        plan.validate_names()


def test_the_matrix_has_one_episode_per_cell_seed_and_repeat_with_stable_keys():
    plan = RunPlan(envs=[ENV], seeds=[0, 1, 2], repeats=2, perturbations=[None, "noise", None],
                   agents=[AgentSpec(name="oracle"), AgentSpec(name="random", config={"max_words": 2})])
    specs = plan.episodes()
    assert len(specs) == 1 * 2 * 2 * 3 * 2  # env × agents × distinct perturbations × seeds × repeats
    assert len({s.episode_key for s in specs}) == len(specs)
    again = RunPlan(**plan.model_dump(exclude={"run_id"})).episodes()
    assert [s.episode_key for s in again] == [s.episode_key for s in specs]  # keys do not depend on the run id


def test_llm_configs_multiply_only_agents_that_take_an_llm():
    plan = RunPlan(envs=[ENV], seeds=[0], agents=[AgentSpec(name="oracle"), AgentSpec(name="react")],
                   llms=["openai:http://127.0.0.1:1/v1", "hf-naive"])
    cells = sorted((s.agent, s.llm or "") for s in plan.episodes())
    assert cells == [("oracle", ""), ("react", "hf-naive"), ("react", "openai:http://127.0.0.1:1/v1")]


def test_cli_run_with_an_unknown_env_exits_before_creating_the_run_dir(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", "--env", "opsgym-test/Dubble-v0", "--out", str(out)])
    assert result.exit_code == 2
    assert "Did you mean" in result.output
    assert not out.exists()
