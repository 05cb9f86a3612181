"""rename-labels keeps every selector selecting what it selected, ``matchExpressions`` included: a key a selector
names only in an expression (``debug DoesNotExist``) is in use, so no label is renamed onto it."""

from __future__ import annotations

import pytest

from opsgym import plugins
from opsgym.k8s.selectors import matches_selector


def objects() -> list[dict]:
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]},
                                     {"key": "role", "operator": "DoesNotExist"},
                                     {"key": "release", "operator": "NotIn", "values": ["canary"]}]}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"selector": selector,
                  "template": {"metadata": {"labels": {"app": "web", "tier": "front", "version": "canary"}},
                               "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "labels": {"app": "web", "role": "debug"}},
         "spec": {"containers": [{"name": "web", "image": "web:1"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web", "tier": "front"}, "ports": [{"port": 80}]}},
    ]


def selections(objs: list[dict]) -> list[tuple[str, str, bool]]:
    """Which selector selects which set of labels (pods and pod templates)."""
    selectors = [(o["metadata"]["name"], o["spec"]["selector"]) for o in objs if "selector" in o.get("spec", {})]
    labelled = [o["metadata"]["labels"] for o in objs if o["kind"] == "Pod"]
    labelled += [o["spec"]["template"]["metadata"]["labels"] for o in objs if "template" in o.get("spec", {})]
    return [(name, str(sorted(labels)), matches_selector(sel, labels))
            for name, sel in selectors for labels in labelled]


@pytest.mark.parametrize("seed", range(12))
def test_selectors_with_expressions_select_the_same_labels_after_the_rename(seed):
    p = plugins.create("perturbation", "rename-labels")
    p.reset(seed)
    before = objects()
    after = p.scenario(before)
    assert p.mapping.get("app") and p.mapping.get("tier")  # something was renamed
    assert "role" not in p.mapping.values() and "release" not in p.mapping.values()
    assert [s[2] for s in selections(after)] == [s[2] for s in selections(before)]
    expressions = after[0]["spec"]["selector"]["matchExpressions"]
    assert expressions[0]["key"] == p.mapping["app"]  # renamed where the label is renamed
