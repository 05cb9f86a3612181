"""SREScenario: a Kubernetes incident on any cluster backend, driven through the agent's kubectl.

``reset(seed)`` renders the app with the seed's fault and noise, asks the backend to hold exactly those objects (or,
for a fault that arrives with a deploy, the pristine app first and then the faulty rollout) and waits until the
fault is observable as the task says (:mod:`opsgym.sre.gate`: a crash loop, an image pull failing, Pending pods …).
Actions are real kubectl commands through :mod:`opsgym.cluster.kubectl`; each advances the backend's clock.
``evaluate()`` lets time pass until the service can show it is healthy, then checks the end state through the
Kubernetes API — the same checks on every backend.
"""

from __future__ import annotations

import string
import time
from typing import Any

from opsgym import plugins
from opsgym.cluster.base import ApiReader, Rollout
from opsgym.cluster.kubectl import Kubectl
from opsgym.outcome import Answer
from opsgym.scenario import ActionResult, Evaluation, Tool
from opsgym.sre.checks import (
    Baseline,
    ClusterView,
    baseline,
    field_check,
    health_checks,
    restart_marks,
    workload_checks,
)
from opsgym.sre.endstate import repair_checks
from opsgym.sre.entities import entity_names
from opsgym.sre.gate import deployments_ready, gate
from opsgym.sre.render import Episode, plan, substitute
from opsgym.tasks import TaskSpec

__all__ = ["SREScenario"]

POLL_S = 15.0
"""How often the end state is looked at while it settles (virtual seconds on the simulator)."""


def _recent_epoch() -> float:
    """Start the simulated clock an hour before the current hour.

    kubectl computes some ages on the client (``describe``'s event ages) against the wall clock. A clock starting at
    a fixed date would make them read like "693d"; a recent, hour-aligned start keeps them plausible while episodes
    started within the same hour stay byte-identical. The simulated clock runs ahead of the wall clock (each action
    costs simulated seconds), so the head start keeps client-side ages from going negative.
    """
    return float(int(time.time()) // 3600 * 3600 - 3600)


class SREScenario:
    """The SRE domain of :class:`opsgym.env.OpsEnv`.

    Args:
        task: an SRE task (``task.sre`` set, loaded from its folder).
        backend: a registered cluster backend (``sim``, ``kind``, ``kubeconfig`` …), built once and kept across resets.
        backend_options: keyword options for the backend factory.
        perturbations: perturbation objects whose ``scenario(objects)`` rewrites the rendered objects.
    """

    tools = (Tool("kubectl", "kubectl VERB [TYPE] [NAME] [-n NAMESPACE] ... [| FILTER ...]",
                  "run kubectl (no shell): get [-w], describe, logs [-f], events, top, explain, auth can-i|whoami, "
                  "wait, exec POD -- CMD, rollout, set, patch, scale, label, annotate, create, apply|replace|delete "
                  "-f - <<EOF (the manifest in the action, then EOF), expose, autoscale, run, cordon, uncordon, "
                  "drain, taint, delete (or cat <<EOF | kubectl apply -f -); pipe the output to grep, head, tail, "
                  "wc, sort, uniq, cut, jq, base64 -d, column -t", aliases=("cat",)),)

    def __init__(self, task: TaskSpec, *, backend: str, backend_options: dict[str, Any] | None = None,
                 perturbations: list[Any] | None = None) -> None:
        self.task = task
        options = dict(backend_options or {})
        if backend == "sim":
            options.setdefault("epoch", _recent_epoch())
        self.backend = plugins.create("cluster backend", backend, **options)
        self.backend.start()
        self.kubectl = Kubectl(self.backend.kubeconfig)
        self.perturbations = list(perturbations or [])
        self.episode: Episode | None = None
        self.baseline: Baseline | None = None
        self._judging_s = self._started_at = 0.0
        self.entities: list[str] = []

    def _view(self) -> ClusterView:
        """The cluster as it is now (a view answers from what it read first: take a new one after time moves)."""
        return ClusterView(self.backend.reader())

    def reset(self, seed: int) -> tuple[str, dict[str, Any]]:
        episode = plan(self.task, seed)
        spec = self.task.sre
        rendered: dict[bool, list[dict[str, Any]]] = {}

        def objects(fault: bool = True) -> list[dict[str, Any]]:
            if fault not in rendered:
                objs = episode.objects(fault=fault)
                for perturbation in self.perturbations:
                    objs = perturbation.scenario(objs)
                rendered[fault] = objs
            return rendered[fault]

        holds, observed = gate(episode)
        age = spec.incident_age_s if self.backend.virtual_time else 0.0
        observed_at: list[float] = []

        def ready(reader: ApiReader) -> bool:
            if not observed_at:
                if not holds(ClusterView(reader)):
                    return False
                observed_at.append(self.backend.now())
            return self.backend.now() - observed_at[0] >= age

        names = "+".join(getattr(p, "name", type(p).__name__) for p in self.perturbations) or "none"
        key = f"{self.task.id}@{self.task.version}/seed={seed}/perturbations={names}"
        traffic = {str(substitute(k, episode.variables)): v for k, v in spec.traffic.items()} or None
        if spec.rollout:
            everyone = episode.deployments()
            settled = Rollout(objects, lambda reader: deployments_ready(ClusterView(reader), episode.namespace,
                                                                          everyone))
            self.backend.load(key, lambda: objects(False), ready=ready, rollout=settled, traffic=traffic,
                              timeout_s=spec.ready_timeout_s + age)
        else:
            self.backend.load(key, objects, ready=ready, traffic=traffic, timeout_s=spec.ready_timeout_s + age)
        repairable: dict[tuple[str, str], list[str]] = {}
        for item in spec.repairable:
            repairable.setdefault((item.kind, substitute(item.name, episode.variables)), []).extend(
                substitute(p, episode.variables) for p in item.paths)
        self.episode, self.baseline = episode, baseline(objects(False), repairable)
        if spec.control:  # nothing may change, not even an object's identity
            view = self._view()
            self.baseline.uids.update({("Deployment", name): live["metadata"]["uid"] for name in episode.deployments()
                                       if (live := view.get("Deployment", episode.namespace, name)) is not None})
        self.entities = entity_names(objects(), skip_data_of=(episode.app.programs_configmap,))  # for scoring
        self._judging_s, self._started_at = 0.0, self.backend.now()
        variables = dict(episode.variables)
        variables["noise"] = list(episode.noise_names)
        alert = string.Template(spec.alert).safe_substitute(variables)
        return alert, {**variables, "observed": observed}

    def execute(self, action: str) -> ActionResult:
        result = self.kubectl.run(action)
        if result.sim_cost_s:
            self.backend.advance(result.sim_cost_s)
        return result

    def observe_answer(self, answer: Answer) -> None:
        """The answer does not change the end state; nothing to do."""

    def _advance(self, seconds: float) -> None:
        self.backend.advance(seconds)
        self._judging_s += seconds

    def evaluate(self) -> Evaluation:
        """Let the service settle (up to ``settle_s``), then watch it for ``stable_s`` and check the end state."""
        if self.episode is None or self.baseline is None:
            return Evaluation(checks=[], remediation_correct=0.0, extra={"error": "reset() was not called"})
        spec, episode, base = self.task.sre, self.episode, self.baseline
        waited, view = 0.0, self._view()
        while waited < spec.settle_s and not _healthy(view, base, episode):
            self._advance(POLL_S)
            waited, view = waited + POLL_S, self._view()
        before = restart_marks(view, episode.namespace, episode.service)
        self._advance(spec.stable_s)
        view = self._view()
        checks = health_checks(view, base, episode, before)
        checks += repair_checks(view, base, episode, real=not self.backend.virtual_time)
        checks += [field_check(view, c, episode.variables, episode.namespace, self._started_at) for c in spec.checks]
        gating = [c for c in checks if c.kind in ("remediation", "safety")]
        correct = 1.0 if gating and all(c.passed for c in gating) else 0.0
        return Evaluation(checks=checks, remediation_correct=correct,
                          extra={"settle_s": waited, "stable_s": spec.stable_s, "noise": episode.noise_names,
                                 "entities": self.entities})

    def now(self) -> float:
        """The cluster clock as the agent experienced it: time spent judging the end state is not the agent's."""
        return self.backend.now() - self._judging_s

    def close(self) -> None:
        self.backend.close()


def _healthy(view: ClusterView, base: Baseline, episode: Episode) -> bool:
    """The faulty service serves and is intact (the end-state checks wait for this, up to ``settle_s``)."""
    return all(c.passed for c in workload_checks(view, base, episode.namespace, episode.service))
