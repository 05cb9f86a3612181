"""Perturbations that change the scenario itself: renamed label keys, and services switched to another log format.

These are the drifts that happen to a cluster rather than to a log viewer, so they are applied to the rendered
objects (``scenario(objects)``) before the backend loads them; the SRE scenario calls it for every perturbation. They
rewrite presentation only: selectors keep selecting the same pods and the fault is untouched.
"""

from __future__ import annotations

import copy
from typing import Any

from opsgym.perturb.generators import LineRewriter
from opsgym.perturb.text import LogLine, render_log_line

__all__ = ["LogFormat", "RenameLabels"]


# ---------------------------------------------------------------------------------------------- rename labels
LABEL_SYNONYMS: dict[str, tuple[str, ...]] = {
    "app": ("k8s-app", "application", "service-name"),
    "tier": ("layer", "role", "stack-tier"),
    "app.kubernetes.io/name": ("app.k8s.io/name", "shop.example.com/name"),
    "app.kubernetes.io/part-of": ("app.k8s.io/part-of", "shop.example.com/system"),
    "app.kubernetes.io/component": ("app.k8s.io/component", "shop.example.com/component"),
    "version": ("release", "app-version"),
    "team": ("owner", "squad"),
}
_LABEL_MAPS = ("labels", "matchLabels")


class RenameLabels(LineRewriter):
    """Label keys renamed everywhere at once (objects, selectors, templates), as after a labelling-convention change.

    The rename is applied to the scenario's objects, so selectors keep selecting what they selected before (a broken
    selector stays broken the same way) and everything the agent lists shows the new keys. A target key that some
    object already uses is never chosen, so no two labels merge.
    """

    name = "rename-labels"

    def choose(self) -> None:
        self.mapping: dict[str, str] = {}

    def _walk(self, value: Any, mapping: dict[str, str], parent: str = "") -> Any:
        if isinstance(value, dict):
            is_map = parent in _LABEL_MAPS or (parent == "selector" and value and all(
                isinstance(v, str) for v in value.values()) and "matchLabels" not in value)
            if is_map:
                return {mapping.get(k, k): v for k, v in value.items()}
            return {k: self._walk(v, mapping, k) for k, v in value.items()}
        if isinstance(value, list):
            if parent == "matchExpressions":
                return [{**e, "key": mapping.get(e["key"], e["key"])} if isinstance(e, dict) and "key" in e else e
                        for e in value]
            return [self._walk(v, mapping, parent) for v in value]
        return value

    @staticmethod
    def _used_keys(value: Any, parent: str = "", out: set[str] | None = None) -> set[str]:
        out = set() if out is None else out
        if isinstance(value, dict):
            if parent in (*_LABEL_MAPS, "selector"):
                out.update(k for k in value if isinstance(k, str))
            if parent == "matchExpressions" and isinstance(value.get("key"), str):
                out.add(value["key"])  # a DoesNotExist/NotIn key is used too: renaming a label onto it would flip it
            for k, v in value.items():
                RenameLabels._used_keys(v, k, out)
        elif isinstance(value, list):
            for v in value:
                RenameLabels._used_keys(v, parent, out)
        return out

    def scenario(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        used = self._used_keys(objects)
        rng = self.rng("labels")
        mapping: dict[str, str] = {}
        for key, options in LABEL_SYNONYMS.items():
            free = [o for o in options if o not in used and o not in mapping.values()]
            if key in used and free:
                mapping[key] = rng.choice(free)
        self.mapping = mapping
        return [self._walk(copy.deepcopy(o), mapping) for o in objects]


# ------------------------------------------------------------------------------------------------ log format
_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


class LogFormat(LineRewriter):
    """The services switch log format (plain → json or logfmt), as after a logging-config rollout.

    On SRE tasks this is real drift: every workload's containers get ``LOG_FORMAT`` set to the episode's format, so
    the programs themselves write it (opsgym's runtime reads ``LOG_FORMAT``). Log lines that reach the agent in any
    other format are converted too, which makes the perturbation work on envs that have no scenario to change.

    Args:
        target: ``json``, ``logfmt`` or ``plain``; default: json or logfmt, chosen by the seed.
    """

    name = "log-format"

    def __init__(self, target: str | None = None) -> None:
        if target is not None and target not in ("plain", "json", "logfmt"):
            raise ValueError(f"log-format target must be plain, json or logfmt, got {target!r}")
        self.fixed = target
        super().__init__()

    def choose(self) -> None:
        self.target = self.fixed or self.rng("format").choice(("json", "logfmt"))

    def log(self, line: LogLine, index: int) -> str | None:
        return None if line.fmt == self.target else render_log_line(line, self.target)

    def scenario(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for obj in objects:
            if obj.get("kind") in (*_WORKLOAD_KINDS, "CronJob", "Pod"):
                obj = copy.deepcopy(obj)
                spec = obj.get("spec", {})
                pod = spec if obj["kind"] == "Pod" else spec.get("template", {}).get("spec", {})
                if obj["kind"] == "CronJob":
                    pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
                for container in pod.get("containers", []) or []:
                    env = [e for e in container.get("env", []) or [] if e.get("name") != "LOG_FORMAT"]
                    container["env"] = [*env, {"name": "LOG_FORMAT", "value": self.target}]
            out.append(obj)
        return out
