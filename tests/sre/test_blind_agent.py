"""The universal blind agent: it knows nothing of the episode beyond what any agent reads through kubectl, and tries
the generic moves that make a crash loop go away without repairing anything. None of them may pass.

It finds the crash-looping Deployment, then (depending on its tactics) sets every key of the ConfigMaps it reads
to a different valid-looking string, points every ``*_ADDR`` variable at the key-value store, swaps the container's
command for another program shipped in the same ConfigMap, sets an absurd memory limit, restarts the rollout and
deletes the pods. A check that only asks "is the injected bad value gone?" passes such an agent; the end state must
instead be the pristine workload with only the fault's fields repaired, a value the program accepts, a dependency
that reaches the intended Service and a shop whose requests flow end to end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import Any

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym.agents.base import play_episode

TASK_IDS = ("SRE-1", "SRE-2", "SRE-3")
SEEDS = range(5)
GENERIC_ANSWER = ('submit {"diagnosis": "a pod was crash looping", "root_cause": "bad configuration", '
                  '"remediation": "changed the configuration and restarted the pods"}')


def _json(observation: str) -> dict[str, Any]:
    start = observation.find("{")
    try:
        return json.loads(observation[start:]) if start >= 0 else {}
    except json.JSONDecodeError:
        return {}


class BlindAgent:
    """A scripted agent with a fixed bag of tricks, steered only by what kubectl shows it.

    Args:
        tactics: which tricks to play: ``config`` (every key of the workload's ConfigMaps gets a different
            valid-looking string), ``addresses`` (every ``*_ADDR`` env at the key-value store), ``command`` (run
            another shipped program), ``memory`` (a roomy 1Gi limit), ``absurd-memory`` (64Gi), ``restart``
            (rollout restart + delete pods).
    """

    def __init__(self, tactics: frozenset[str]) -> None:
        self.tactics = tactics
        self._plan: Generator[str, str, None] | None = None

    def reset(self, *, seed: int | None = None, env: Any = None, ledger: Any = None) -> None:
        self._plan = None

    def act(self, observation: str, info: dict[str, Any]) -> str:
        try:
            if self._plan is None:
                self._plan = self._play(observation)
                return next(self._plan)
            return self._plan.send(observation)
        except StopIteration:
            return GENERIC_ANSWER

    def _play(self, alert: str) -> Generator[str, str, None]:
        found = re.search(r"namespace[= ]([a-z0-9-]+)", alert)
        ns = found.group(1) if found else "default"
        table = (yield f"kubectl get pods -n {ns}").splitlines()[1:]
        crashing = [row.split()[0] for row in table if "CrashLoopBackOff" in row or "OOMKilled" in row]
        if not crashing:
            return
        owner = crashing[0].rsplit("-", 2)[0]
        deployment = _json((yield f"kubectl get deployment {owner} -n {ns} -o json"))
        pod = deployment.get("spec", {}).get("template", {}).get("spec", {})
        container = (pod.get("containers") or [{}])[0]
        name = container.get("name", owner)
        if "config" in self.tactics:
            for source in container.get("envFrom", []):
                cm = source.get("configMapRef", {}).get("name")
                data = _json((yield f"kubectl get configmap {cm} -n {ns} -o json")).get("data", {})
                junk = {key: f"{value}-v2" for key, value in data.items()}
                yield f"kubectl patch configmap {cm} -n {ns} --type merge -p '{json.dumps({'data': junk})}'"
        if "addresses" in self.tactics:
            services = _json((yield f"kubectl get services -n {ns} -o json")).get("items", [])
            store = next((s["metadata"]["name"] for s in services
                          if any(p.get("port") == 6379 for p in s.get("spec", {}).get("ports", []))), "kv")
            addresses = [e["name"] for e in container.get("env", []) if e.get("name", "").endswith("_ADDR")]
            if addresses:
                pairs = " ".join(f"{a}={store}:6379" for a in addresses)
                yield f"kubectl set env deployment/{owner} -n {ns} -c {name} {pairs}"
        for tactic, limit in (("memory", "1Gi"), ("absurd-memory", "64Gi")):
            if tactic in self.tactics:
                yield f"kubectl set resources deployment/{owner} -n {ns} -c {name} --limits=memory={limit}"
        if "command" in self.tactics:
            volume = next((v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v), "")
            programs = sorted(_json((yield f"kubectl get configmap {volume} -n {ns} -o json")).get("data", {}))
            own = next((part for part in container.get("command", []) if part.endswith(".py")), "")
            others = [p for p in programs if p.endswith(".py") and not own.endswith("/" + p)
                      and p in ("shipping.py", "cart.py")]
            if others:
                command = json.dumps([{"op": "replace", "path": "/spec/template/spec/containers/0/command",
                                       "value": ["python", f"/app/{others[0]}"]}])
                yield f"kubectl patch deployment {owner} -n {ns} --type json -p '{command}'"
        if "restart" in self.tactics:
            yield f"kubectl rollout restart deployment/{owner} -n {ns}"
            for pod_name in crashing:
                yield f"kubectl delete pod {pod_name} -n {ns}"
        yield f"kubectl rollout status deployment/{owner} -n {ns}"


TACTICS = {
    "everything": frozenset({"config", "addresses", "memory", "command", "restart"}),
    "swap the command": frozenset({"command", "restart"}),
    "every address at the store": frozenset({"addresses", "restart"}),
    "an absurd memory limit": frozenset({"absurd-memory", "restart"}),
}


def _guessed_right(task_id: str, tactics: str, variables: dict[str, Any]) -> bool:
    """Pointing the only address at the store *is* the repair when the store is the dependency it lost."""
    return tactics == "every address at the store" and task_id == "SRE-2" and variables["good_addr"] == "kv:6379"


@pytest.mark.parametrize("tactics", sorted(TACTICS))
@pytest.mark.parametrize("task_id", TASK_IDS)
def test_the_blind_agent_never_passes(task_id, tactics):
    env = gym.make(f"opsgym/{task_id}")
    try:
        scores = []
        for seed in SEEDS:
            end = play_episode(env, BlindAgent(TACTICS[tactics]), seed=seed)
            outcome, metrics = end.info["outcome"], end.info["metrics"]
            scores.append((seed, _guessed_right(task_id, tactics, outcome["variables"]), metrics["TaskEfficacy"],
                           outcome["remediation_correct"],
                           [c["name"] for c in outcome["checks"] if not c["passed"]]))
    finally:
        env.close()
    wrong = [s for s in scores if (s[3] == 1.0) is not s[1] or (not s[1] and s[2] >= 0.5)]
    assert not wrong, wrong
