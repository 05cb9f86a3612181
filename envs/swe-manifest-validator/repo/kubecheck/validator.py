"""Entry points: find the containers of a manifest and run every rule on them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kubecheck.findings import Finding, Severity
from kubecheck.rules import ALL_RULES, Rule

__all__ = ["validate", "validate_all"]

_POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def _pod_spec(manifest: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Return ``(path, pod spec)`` for the kinds that run containers, else ``None``."""
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return "spec", spec
    if kind in _POD_TEMPLATE_KINDS:
        return "spec.template.spec", (spec.get("template") or {}).get("spec") or {}
    if kind == "CronJob":
        job = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
        return "spec.jobTemplate.spec.template.spec", job.get("spec") or {}
    return None


def _containers(manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    located = _pod_spec(manifest)
    if located is None:
        return
    base, pod_spec = located
    for field in ("initContainers", "containers"):
        for index, container in enumerate(pod_spec.get(field) or []):
            yield f"{base}.{field}[{index}]", container


def validate(manifest: dict[str, Any], rules: Iterable[Rule] = ALL_RULES) -> list[Finding]:
    """Return every finding for one manifest, sorted by path."""
    if not isinstance(manifest, dict) or "kind" not in manifest:
        return [Finding("", "manifest", Severity.ERROR, "not a Kubernetes object (no 'kind')")]
    rules = tuple(rules)
    findings = []
    for path, container in _containers(manifest):
        skip_probes = path.split(".")[-1].startswith("initContainers")
        for rule in rules:
            if skip_probes and rule.__name__ == "probes_present":
                continue
            findings.extend(rule(container, path))
    return sorted(findings)


def validate_all(manifests: Iterable[dict[str, Any]]) -> dict[str, list[Finding]]:
    """Validate a multi-document stream; keys are ``Kind/name``."""
    report: dict[str, list[Finding]] = {}
    for manifest in manifests:
        if not manifest:
            continue
        name = (manifest.get("metadata") or {}).get("name", "?")
        report[f"{manifest.get('kind', '?')}/{name}"] = validate(manifest)
    return report
