"""OpsEnv over every registered task: Gymnasium's checker, seeded determinism, and untrusted input never raising."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym.env import MAX_ACTION_CHARS
from opsgym.errors import InfrastructureError

ALL_IDS = sorted(env_id for env_id in gym.registry if env_id.startswith("opsgym/"))
SRE_IDS = [i for i in ALL_IDS if i.startswith("opsgym/SRE-")]


def probe_actions(env: gym.Env) -> list[str]:
    """A short rollout that touches the domain, an intervention and an invalid action."""
    verbs = {t.verb for t in env.unwrapped.tools}
    domain = "kubectl get pods -A" if "kubectl" in verbs else "find test"
    return ["help", domain, "hint", "no-such-verb at all", domain]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_gymnasium_env_checker_passes(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_same_seed_same_actions_same_observations(env_id):
    runs = []
    for _ in range(2):
        env = gym.make(env_id)
        obs, _ = env.reset(seed=1234)
        trace = [obs] + [env.step(a)[0] for a in probe_actions(env)]
        runs.append(trace)
        env.close()
    assert runs[0] == runs[1]


@pytest.mark.parametrize("env_id", SRE_IDS)
def test_seeds_vary_the_incident(env_id):
    env = gym.make(env_id)
    firsts = {env.reset(seed=s)[0] for s in range(4)}
    env.close()
    assert len(firsts) > 1


ADVERSARIAL = [
    "",
    "   ",
    "\x00\x01binary",
    "kubectl get pods; rm -rf /",
    "kubectl get pods $(cat /etc/passwd)",
    "kubectl get pods `id`",
    "kubectl get pods | sh",
    "kubectl get pods > /tmp/x",
    "kubectl --kubeconfig /root/.kube/config get pods",
    "kubectl --server http://127.0.0.1:1 get pods",
    "kubectl exec -it x -- sh",
    "kubectl 'unterminated",
    "submit {not json",
    "submit [1, 2]",
    'submit "just a string"',
    "ask",
    "x" * (MAX_ACTION_CHARS + 1),
    "é" * 10,
]


@pytest.fixture(scope="module")
def sre1():
    env = gym.make("opsgym/SRE-1", max_steps=10_000)
    env.reset(seed=7)
    yield env
    env.close()


@pytest.mark.parametrize("action", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_bad_input_is_an_observation_not_an_exception(sre1, action):
    obs, reward, terminated, truncated, info = sre1.step(action)
    assert not terminated and reward == 0.0
    assert obs and sre1.observation_space.contains(obs)
    assert any(word in obs.lower() for word in ("invalid", "not allowed", "unsupported", "error", "refused"))
    assert sre1.unwrapped.outcome is None
    obs, *_ = sre1.step("kubectl get deploy -A")  # the env still works afterwards
    assert "NAME" in obs


@pytest.mark.parametrize("action", [b"kubectl get pods", 42, None, ["kubectl", "get", "pods"]],
                         ids=["bytes", "int", "None", "list"])
def test_an_action_that_is_not_text_is_an_observation(sre1, action):
    obs, reward, terminated, truncated, _ = sre1.step(action)
    assert obs.startswith("Invalid action: actions are text") and reward == 0.0 and not terminated
    assert sre1.unwrapped._actions[-1].cls == "invalid"


def test_a_submit_with_wrong_field_types_is_refused_and_the_episode_goes_on(sre1):
    obs, _, terminated, *_ = sre1.step('submit {"diagnosis": ["a"], "root_cause": {"x": 1}, "remediation": 3}')
    assert obs.startswith("Invalid action: submit") and not terminated
    assert sre1.unwrapped.outcome is None and sre1.unwrapped._actions[-1].cls == "invalid"


def test_a_scenario_bug_is_reported_as_internal_but_an_infrastructure_failure_propagates(monkeypatch):
    env = gym.make("opsgym/SRE-1")
    env.reset(seed=0)
    scenario = env.unwrapped._scenario

    def broken(text):
        raise KeyError("status")

    monkeypatch.setattr(scenario, "execute", broken)
    obs, reward, terminated, truncated, _ = env.step("kubectl get pods -A")
    assert obs.startswith("Internal error while running 'kubectl'") and "KeyError" in obs
    assert not (terminated or truncated) and env.unwrapped._actions[-1].error.startswith("internal:")

    def cluster_gone(text):
        raise InfrastructureError("API server unreachable")

    monkeypatch.setattr(scenario, "execute", cluster_gone)
    with pytest.raises(InfrastructureError, match="unreachable"):  # the runner records it as not the agent's fault
        env.step("kubectl get pods -A")
    env.close()


def test_steps_after_the_end_say_so_and_keep_the_outcome():
    env = gym.make("opsgym/SRE-1", max_steps=1, render_mode="ansi")
    env.reset(seed=0)
    obs, _, _, truncated, info = env.step("help")
    assert truncated and env.render() == obs  # ansi: the last observation
    obs, reward, terminated, truncated, after = env.step("kubectl get pods -A")
    assert obs.startswith("The episode is over") and reward == 0.0 and not terminated and not truncated
    assert after["outcome"] == info["outcome"]
    env.close()


def test_a_template_file_on_the_host_is_never_read(sre1):
    """kubectl opens *-file templates on the machine it runs on: the task's own answer key would be one step away."""
    task_file = sre1.unwrapped.task.path / "task.yaml"
    assert "ground_truth" in task_file.read_text()
    for output in (f"-o jsonpath-file={task_file}", f"-o go-template-file --template={task_file}"):
        obs, *_ = sre1.step(f"kubectl get ns default {output}")
        assert obs.startswith("Invalid action:") and "ground_truth" not in obs and "root:" not in obs
    obs, *_ = sre1.step("kubectl get ns kube-system -ojsonpath={.metadata.name}")  # an inline template still works
    assert obs.strip() == "kube-system"


def test_intervention_and_invalid_actions_are_classified(sre1):
    sre1.reset(seed=3)
    for action in ("hint", "ask what changed?", "frobnicate", "kubectl get pods -A", "escalate"):
        sre1.step(action)
    actions = sre1.unwrapped._actions
    assert [a.cls for a in actions] == ["intervention", "intervention", "invalid", "read", "intervention"]
    assert sre1.unwrapped._interventions == 3
    sre1.reset(seed=7)  # escalating ended the episode; later tests share this env


def test_outcome_at_the_end_has_answer_actions_checks_and_times():
    env = gym.make("opsgym/SRE-1")
    env.reset(seed=0)
    env.step("kubectl get pods -A")
    *_, terminated, truncated, info = env.step(
        'submit {"diagnosis": "d", "root_cause": "r", "remediation": "none"}')
    assert terminated and not truncated
    outcome = info["outcome"]
    assert outcome["answer"]["diagnosis"] == "d"
    assert [a["cls"] for a in outcome["actions"]] == ["read", "submit"]
    assert outcome["checks"] and outcome["remediation_correct"] < 1.0
    assert outcome["sim_time_s"] > 0 and outcome["wall_time_s"] > 0
    env.close()


def test_running_out_of_steps_truncates_with_an_outcome():
    env = gym.make("opsgym/SRE-1", max_steps=2)
    env.reset(seed=0)
    env.step("help")
    *_, terminated, truncated, info = env.step("help")
    assert truncated and not terminated and info["outcome"]["truncated"]
    env.close()


CORE_SRE = ("opsgym/SRE-1", "opsgym/SRE-2", "opsgym/SRE-3")
"""The first incidents get 1,500 generated actions each; every other SRE id 150 (the parser and the policy are the
same code for all, what differs per task is the cluster the actions land on)."""


@pytest.mark.parametrize("env_id", SRE_IDS)
def test_thousands_of_generated_actions_never_raise(env_id):
    env = gym.make(env_id, max_steps=100_000)
    env.reset(seed=11)
    tokens = st.sampled_from(["kubectl", "get", "pods", "-n", ";", "|", "$(", "`", "&&", ">", "--force", "-o",
                              "json", "delete", "submit", "{", "}", "hint", "--kubeconfig", "'", '"', "\\", "\n"])
    actions = st.one_of(st.text(max_size=200), st.lists(tokens, max_size=12).map(" ".join))

    @settings(max_examples=1500 if env_id in CORE_SRE else 150, deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(actions)
    def one(action):
        obs, reward, terminated, truncated, info = env.step(action)
        assert isinstance(obs, str) and env.observation_space.contains(obs)
        if terminated or truncated:
            env.reset(seed=11)

    one()
    env.close()


def test_module_prefixed_id_works_without_importing_opsgym():
    from tests.conftest import run_python

    code = ("import sys, gymnasium as gym\n"
            "assert 'opsgym' not in sys.modules\n"
            "env = gym.make('opsgym:opsgym/SRE-1')\n"
            "obs, info = env.reset(seed=0)\n"
            "print(info['task_id'], type(env.unwrapped).__name__)\n")
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-2:] == ["SRE-1", "OpsEnv"]


# ---- hostile input at the door: str subclasses that lie, objects that fake being text, lenient-JSON submits ----

class Liar(str):
    """Every method the env might call answers for another action (a submit that would end the episode)."""

    FAKE = 'submit {"diagnosis": "d", "root_cause": "r", "remediation": "x"}'

    def strip(self, *args):
        return Liar.FAKE

    def split(self, *args, **kwargs):
        return Liar.FAKE.split(*args, **kwargs)

    def startswith(self, *args):
        return True

    def __eq__(self, other):
        return True

    def __hash__(self):
        return 0

    def __str__(self):
        return Liar.FAKE

    def __len__(self):
        return 1

    def __iter__(self):
        return iter("a")

    def __getitem__(self, item):
        return Liar.FAKE

    def __contains__(self, item):
        return False

    def lower(self):
        return Liar.FAKE

    def encode(self, *args, **kwargs):
        return Liar.FAKE.encode()


def test_a_str_subclass_is_read_as_its_plain_characters(sre1):
    obs, reward, terminated, truncated, _ = sre1.step(Liar("kubectl get deploy -A"))
    assert not terminated and "NAME" in obs  # the characters ran, not what strip()/split() claimed
    recorded = sre1.unwrapped._actions[-1]
    assert type(recorded.action) is str and recorded.action == "kubectl get deploy -A" and recorded.cls == "read"


def test_a_str_subclass_cannot_shrink_past_the_length_and_charset_checks(sre1):
    obs, *_ = sre1.step(Liar("x" * (MAX_ACTION_CHARS + 1)))
    assert obs.startswith("Invalid action:") and "limit" in obs
    obs, *_ = sre1.step(Liar("kubectl get pods -n caf\u00e9"))
    assert obs.startswith("Invalid action:") and "non-ASCII" in obs


class FakesStr:
    """Claims to be a str through ``__class__``; its repr and str raise."""

    @property
    def __class__(self):
        return str

    def __repr__(self):
        raise RuntimeError("repr of an agent's object ran")

    __str__ = __repr__


class RaisingClassAttr:
    @property
    def __class__(self):
        raise RuntimeError("isinstance looked at __class__")


class NamelessMeta(type):
    @property
    def __name__(cls):
        raise RuntimeError("a type name from the agent's metaclass")


class Nameless(metaclass=NamelessMeta):
    pass


@pytest.mark.parametrize("make", [FakesStr, RaisingClassAttr, Nameless], ids=["fake-class", "raising-class",
                                                                            "raising-name"])
def test_an_object_that_pretends_to_be_text_is_an_observation(sre1, make):
    obs, reward, terminated, truncated, _ = sre1.step(make())
    assert obs.startswith("Invalid action: actions are text") and not terminated
    assert sre1.unwrapped._actions[-1].action.startswith("<not text:")


NESTED = "[" * 10_000 + "]" * 10_000


@pytest.mark.parametrize(("payload", "why"), [
    (NESTED, "nested"),
    ('{"diagnosis": "d", "root_cause": "r", "remediation": "x", "extra": ' + "[" * 500 + "]" * 500 + "}", "nested"),
    ('{"diagnosis": "d", "root_cause": "r", "remediation": "x", "n": ' + "9" * 5000 + "}", "too large"),
    ('{"diagnosis": "d", "root_cause": "r", "remediation": "x", "n": 1e999}', "out of range"),
    ('{"diagnosis": "d", "root_cause": "r", "remediation": "x", "n": NaN}', "NaN"),
    ('{"diagnosis": "d", "root_cause": "r", "remediation": "x", "n": -Infinity}', "Infinity"),
    ('{"diagnosis": "a", "diagnosis": "b", "root_cause": "r", "remediation": "x"}', "twice"),
    ("[1, 2]", "JSON object"),
    ('"text"', "JSON object"),
    ("12", "JSON object"),
    ("null", "JSON object"),
], ids=["depth-10000", "deep-extra", "huge-int", "huge-float", "nan", "infinity", "duplicate-key", "list", "string",
        "number", "null"])
def test_a_submit_that_is_not_a_plain_json_object_is_an_invalid_action(sre1, payload, why):
    obs, reward, terminated, truncated, _ = sre1.step(f"submit {payload}")
    assert obs.startswith("Invalid action: submit") and why in obs and "Internal error" not in obs
    assert not terminated and sre1.unwrapped.outcome is None
    assert sre1.unwrapped._actions[-1].cls == "invalid"
