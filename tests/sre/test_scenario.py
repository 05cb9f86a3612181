"""SREScenario on the embedded cluster: the fault is observable, the oracle's fix passes, wrong fixes never do."""

from __future__ import annotations

import http.server
import json
import string
import threading

import gymnasium as gym
import pytest
from kubernetes.client import ApiClient, Configuration
from sre_episodes import TASKS, failed, play, solution

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym.agents.base import play_episode
from opsgym.agents.scripted import OracleAgent
from opsgym.cluster.real import ClientReader
from opsgym.errors import ClusterApiError
from opsgym.sre.checks import ClusterView, crashlooping
from opsgym.sre.scenario import SREScenario


@pytest.mark.parametrize("task_id", sorted(TASKS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fault_is_observable_and_the_oracle_fixes_it(scenarios, task_id, seed):
    scenario = scenarios[task_id]
    alert, v = scenario.reset(seed)
    assert v["namespace"] in alert
    assert crashlooping(ClusterView(scenario.backend.reader()), v["namespace"], v["service"], [])
    pods = scenario.execute(f"kubectl get pods -n {v['namespace']}").observation
    assert "CrashLoopBackOff" in pods and v["service"] in pods
    for action, observation in zip(solution(task_id, v), play(scenario, solution(task_id, v)), strict=True):
        assert "Invalid action" not in observation, (action, observation)
    evaluation = scenario.evaluate()
    assert failed(evaluation) == set() and evaluation.remediation_correct == 1.0, evaluation.checks


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_doing_nothing_fails(scenarios, task_id):
    scenario = scenarios[task_id]
    _, v = scenario.reset(3)
    evaluation = scenario.evaluate()
    assert evaluation.remediation_correct == 0.0
    assert {f"{v['service']}-pods-ready", f"{v['service']}-endpoints-serve"} <= failed(evaluation)


REMOVE = '{{"op": "remove", "path": "/spec/template/spec/containers/0/PROBE"}}'
DROP_PROBES = ("kubectl patch deployment {service} -n {namespace} --type json -p '["
               + ", ".join(REMOVE.replace("PROBE", p) for p in ("readinessProbe", "livenessProbe")) + "]'")
WRONG_FIXES = {
    "scale to zero": (["kubectl scale deployment/{service} -n {namespace} --replicas=0"], "replicas-kept"),
    "delete the deployment": (["kubectl delete deployment {service} -n {namespace}"], "deployment-kept"),
    "fix, then delete the service": (["*", "kubectl delete service {service} -n {namespace}"], "service-kept"),
    "fix, then scale down": (["*", "kubectl scale deployment/{service} -n {namespace} --replicas=1"],
                             "replicas-kept"),
    "fix, then drop the probes": (["*", DROP_PROBES], "probes-kept"),
}


@pytest.mark.parametrize("task_id", sorted(TASKS))
@pytest.mark.parametrize("wrong", sorted(WRONG_FIXES))
def test_removing_or_weakening_the_service_never_passes(scenarios, task_id, wrong):
    scenario = scenarios[task_id]
    _, v = scenario.reset(4)
    steps, check = WRONG_FIXES[wrong]
    for step in steps:
        actions = solution(task_id, v) if step == "*" else [step.format(**v)]
        play(scenario, actions)
    evaluation = scenario.evaluate()
    assert evaluation.remediation_correct == 0.0
    assert f"{v['service']}-{check}" in failed(evaluation)


def test_sre1_papering_over_the_configmap_with_a_deployment_env_does_not_count(scenarios):
    scenario = scenarios["SRE-1"]
    _, v = scenario.reset(5)
    override = f"kubectl set env deployment/{v['service']} -n {v['namespace']} {v['key']}={v['good_value']}"
    assert scenario.execute(override).ok
    evaluation = scenario.evaluate()
    assert f"{v['service']}-pods-ready" not in failed(evaluation), "the override does make the service healthy"
    assert failed(evaluation) == {"configmap-value-valid", f"{v['service']}-unchanged-but-repaired"}
    assert evaluation.remediation_correct == 0.0


@pytest.mark.parametrize("limit, passes", [(None, False), ("64Gi", False), ("${good_limit}", True)])
def test_sre3_needs_a_sane_memory_limit(scenarios, limit, passes):
    scenario = scenarios["SRE-3"]
    _, v = scenario.reset(6)
    if limit is None:
        action = (f"kubectl patch deployment {v['service']} -n {v['namespace']} --type json -p '[{{\"op\": "
                  f"\"remove\", \"path\": \"/spec/template/spec/containers/0/resources/limits/memory\"}}]'")
    else:
        action = (f"kubectl set resources deployment/{v['service']} -n {v['namespace']} -c {v['service']} "
                  f"--limits=memory={string.Template(limit).substitute(v)}")
    assert scenario.execute(action).ok
    evaluation = scenario.evaluate()
    assert (evaluation.remediation_correct == 1.0) is passes
    assert ("memory-limit-sane" in failed(evaluation)) is not passes


def test_collateral_damage_is_reported_but_does_not_undo_a_fix(scenarios):
    scenario = scenarios["SRE-2"]
    _, v = scenario.reset(7)
    play(scenario, solution("SRE-2", v))
    victim = next(s for s in ("shipping", "catalog") if s != v["service"])
    scenario.execute(f"kubectl delete deployment {victim} -n {v['namespace']}")
    evaluation = scenario.evaluate()
    assert failed(evaluation) == {f"{victim}-intact", "shop-request-flow"}  # the shop's request needs the victim
    assert {c.kind for c in evaluation.checks if not c.passed} == {"collateral"}
    assert evaluation.remediation_correct == 1.0


def test_the_same_seed_gives_the_same_observations(scenarios):
    scenario = scenarios["SRE-1"]
    runs = []
    for _ in range(2):
        _, v = scenario.reset(8)
        runs.append(play(scenario, [f"kubectl get pods -n {v['namespace']}",
                                    f"kubectl logs deployment/{v['service']} -n {v['namespace']} --previous",
                                    f"kubectl describe deployment {v['service']} -n {v['namespace']}"]))
    assert runs[0] == runs[1]


def test_judging_time_is_not_the_agents_time(scenarios):
    scenario = scenarios["SRE-1"]
    scenario.reset(9)
    start = scenario.now()
    scenario.evaluate()
    assert scenario.now() == start
    assert scenario.backend.now() > start


def test_time_to_solution_counts_the_world_time_the_agents_actions_took_and_no_judging():
    env = gym.make("opsgym/SRE-1")
    *_, info, _ = play_episode(env, OracleAgent(), seed=10)
    env.close()
    world = info["outcome"]["sim_time_s"]
    tts = info["metrics"]["inputs"]["time_to_solution_s"]
    assert world == pytest.approx(sum(a["sim_time_s"] for a in info["outcome"]["actions"]))  # judging is not in it
    assert world <= tts < world + 30  # plus the agent's own wall time: judging is neither added nor taken off again


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_the_oracle_agent_scores_full_marks_through_gym_make(task_id):
    env = gym.make(f"opsgym/{task_id}")
    _, reward, terminated, _, info, _ = play_episode(env, OracleAgent(), seed=10)
    env.close()
    outcome = info["outcome"]
    assert terminated and outcome["remediation_correct"] == 1.0
    assert all(c["passed"] for c in outcome["checks"])
    answer = outcome["answer"]
    assert answer["root_cause"] == outcome["ground_truth"]["root_cause"]
    assert json.dumps(answer)


class StampDeployments:
    """A test double of a perturbation that rewrites the rendered objects (as ``log-format`` or ``rename-labels``)."""

    name = "stamp"

    def reset(self, seed: int) -> None:
        self.seed = seed

    def observation(self, text: str) -> str:
        return text

    def scenario(self, objects: list[dict]) -> list[dict]:
        for obj in objects:
            if obj["kind"] == "Deployment":
                obj["metadata"].setdefault("labels", {})["stamp"] = f"s{self.seed}"
        return objects


def test_perturbations_rewrite_what_the_backend_loads():
    perturbation = StampDeployments()
    scenario = SREScenario(TASKS["SRE-2"], backend="sim", backend_options={}, perturbations=[perturbation])
    try:
        perturbation.reset(12)
        _, v = scenario.reset(12)
        shown = scenario.execute(f"kubectl get deploy -n {v['namespace']} -L stamp").observation
        assert shown.count("s12") == len(scenario.episode.app.services)
    finally:
        scenario.close()


def test_a_rejected_action_is_invalid_and_costs_no_cluster_time(scenarios):
    scenario = scenarios["SRE-1"]
    scenario.reset(13)
    before = scenario.now()
    result = scenario.execute("kubectl get pods; rm -rf /")
    assert (result.cls, result.ok) == ("invalid", False)
    assert scenario.now() == before
    assert scenario.execute("kubectl get pods -A").ok and scenario.now() > before


def test_a_cluster_view_is_one_moment_read_in_a_few_lists(scenarios, monkeypatch):
    """Each listed kind is read once per namespace however many objects are asked for; a missing object is None."""
    scenario = scenarios["SRE-1"]
    _, v = scenario.reset(0)
    reader, paths = scenario.backend.reader(), []
    get = reader.get
    monkeypatch.setattr(reader, "get", lambda path: paths.append(path) or get(path))
    view = ClusterView(reader)
    deployments = list(scenario.episode.app.services)
    assert v["service"] in deployments and len(deployments) >= 6
    for name in deployments * 2:
        assert view.get("Deployment", v["namespace"], name)["metadata"]["name"] == name
    assert view.get("Deployment", v["namespace"], "no-such-service") is None
    pods = view.pods(v["namespace"], view.get("Deployment", v["namespace"], v["service"]))
    assert pods and {p["metadata"]["labels"]["app"] for p in pods} == {v["service"]}
    assert view.get("ConfigMap", v["namespace"], "no-such-config") is None
    assert view.get("ConfigMap", v["namespace"], f"{v['service']}-config")["data"]
    assert [path.rsplit("/", 1)[-1] for path in paths] == ["deployments", "pods", "no-such-config",
                                                           f"{v['service']}-config"]


@pytest.mark.parametrize(("status", "body"), [(403, "forbidden: agent may not list pods"), (500, "etcd is down")])
def test_a_server_error_is_raised_with_its_status_never_read_as_missing(status, body):
    """Only 404 means "absent"; any other failure must surface, or a broken cluster would read as a deleted object."""
    class Failing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = json.dumps({"kind": "Status", "code": status, "message": body}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = Configuration(host=f"http://127.0.0.1:{server.server_port}")
        config.api_key = {"authorization": "Bearer test"}
        view = ClusterView(ClientReader(ApiClient(config)))
        for kind in ("Pod", "ConfigMap"):  # a listed kind and one read by name
            with pytest.raises(ClusterApiError) as raised:
                view.get(kind, "shop", "cart")
            assert raised.value.status == status and body in str(raised.value)
    finally:
        server.shutdown()
        server.server_close()
