"""Planning: the matrix expands to stable episodes, and every misspelt name fails before anything runs."""

from __future__ import annotations

import gymnasium as gym
import odd_envs  # noqa: F401  (registers odd/* ids)
import opsgym_doubles
import pytest
from typer.testing import CliRunner

from opsgym import plugins
from opsgym.cli import app
from opsgym.errors import OpsGymError, UnknownNameError
from opsgym.runner import AgentSpec, EpisodeRunner, RunPlan, parse_agent, parse_seeds, resolve_env_ids

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


@pytest.fixture
def explicit_llm_backend(monkeypatch):
    """A third-party LLM backend whose factory names its options (the built-in ones take **options)."""

    def factory(target: str | None = None, *, temperature: float = 0.0, timeout: float = 60.0) -> None:
        raise AssertionError("validation must not build the backend")

    plugins.load_plugins()
    entry = plugins.Entry("llm backend", "explicit", factory, "tests", "tests")
    monkeypatch.setitem(plugins._REGISTRIES["llm backend"], "explicit", entry)


@pytest.mark.parametrize(("change", "message"), [
    ({"agents": [AgentSpec(name="orcale")]}, "Did you mean 'oracle'"),
    ({"perturbations": ["reorder-feilds"]}, "Did you mean 'reorder-fields'"),
    ({"agents": [AgentSpec(name="react")], "llms": ["opneai:http://127.0.0.1:1/v1"]}, "Did you mean 'openai'"),
    ({"agents": [AgentSpec(name="random", config={"max_wrds": 3})]}, "max_wrds.*Did you mean 'max_words'"),
    ({"llms": ["openai:http://127.0.0.1:1/v1"]}, "none of the agents"),
    ({"envs": ["opsgym/SRE-1"], "env_kwargs": {"backend": "simm"}}, "cluster backend 'simm'.*Did you mean 'sim'"),
    ({"envs": ["opsgym/SWE-semver"], "env_kwargs": {"backend": "sim"}}, "SWE sandbox backend 'sim'"),
    ({"envs": ["opsgym/SRE-1"], "env_kwargs": {"max_step": 3}}, "max_step.*Did you mean 'max_steps'"),
    ({"env_kwargs": {"max_step": 3}}, "opsgym-test/Double-v0.*max_step.*Did you mean 'max_steps'"),
    ({"envs": ["odd_envs:odd/NoOutcome-v0"], "perturbations": ["noise"]}, "perturbation"),
    ({"agents": [AgentSpec(name="react")], "llms": ["explicit"], "llm_config": {"temprature": 0}},
     "LLM backend 'explicit'.*temprature.*Did you mean 'temperature'"),
    ({"agents": [AgentSpec(name="react")], "llms": ["explicit,timeuot=5"]}, "Did you mean 'timeout'"),
    ({"agents": [AgentSpec(name="react")], "llms": ["openai:http://127.0.0.1:1/v1"], "llm_config": {"max_retry": 0}},
     "LLM backend 'openai'.*Did you mean 'max_retries'"),  # the built-in backends carry their classes' signatures
    ({"agents": [AgentSpec(name="react")], "llms": ["hf-naive,dtpye=bfloat16"]}, "Did you mean 'dtype'"),
    ({"agents": [AgentSpec(name="react")], "llms": ["hf-prefix"], "llm_config": {"reuse_prefix": False}},
     "LLM backend 'hf-prefix'.*reuse_prefix"),  # fixed by the backend's name
])
def test_unknown_names_and_options_fail_before_any_episode(change, message, explicit_llm_backend):
    plan = RunPlan(envs=[ENV], seeds=[0], agents=[AgentSpec(name="oracle")]).model_copy(update=change)
    with pytest.raises(OpsGymError, match=message):
        plan.validate_names()


@pytest.mark.parametrize("change", [
    {"envs": ["opsgym/SRE-1"], "env_kwargs": {"backend": "sim", "max_steps": 3, "profile": "sre"}},
    {"envs": ["opsgym/SWE-Lite"], "env_kwargs": {"backend": "unsafe-local"}},
    {"env_kwargs": {"max_steps": 3}, "perturbations": [None, "noise"]},
    {"agents": [AgentSpec(name="react")], "llms": ["explicit,timeout=5"], "llm_config": {"temperature": 0.5}},
    {"agents": [AgentSpec(name="react")], "llms": ["openai:http://127.0.0.1:1/v1"], "llm_config": {"timeout": 1}},
    {"agents": [AgentSpec(name="react")], "llms": ["vllm:serial"], "llm_config": {"gpu": False}},  # server options
])
def test_options_the_receiver_takes_pass_and_a_receiver_taking_kwargs_is_not_second_guessed(change,
                                                                                           explicit_llm_backend):
    plan = RunPlan(envs=[ENV], seeds=[0], agents=[AgentSpec(name="oracle")]).model_copy(update=change)
    assert plan.validate_names()


@pytest.mark.filterwarnings("ignore:.*out of date.*:DeprecationWarning")  # this module registers Double-v1 too
def test_a_glob_leaves_suites_out_and_a_suite_named_explicitly_is_one_env_whose_task_comes_from_the_outcome():
    swe_tasks = sorted(f"opsgym/{name}" for name, entry in plugins.entries("task").items()
                       if "SWE-Lite" in entry.factory.suites)
    assert sorted(resolve_env_ids(["opsgym/SWE-*"])) == swe_tasks  # not opsgym/SWE-Lite: it would replay them
    assert resolve_env_ids(["opsgym/SWE-Lite"]) == ["opsgym/SWE-Lite"]
    specs = RunPlan(envs=["opsgym/SWE-Lite", "opsgym/SRE-1"], seeds=[0], agents=[AgentSpec(name="oracle")]).episodes()
    assert [(s.env_id, s.task_id) for s in specs] == [("opsgym/SWE-Lite", ""), ("opsgym/SRE-1", "SRE-1")]
    spec = specs[0].model_copy(update={"env_id": ENV, "task_id": "SWE-Lite", "env_kwargs": {}})
    runner = EpisodeRunner()
    try:
        record = runner.run(spec)  # whatever the plan said, the record names the task that really ran
    finally:
        runner.close()
    assert record.status == "completed" and record.spec.task_id == record.outcome.task_id == "Double"


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
