"""Reading what an action did: integers read as kubectl reads them, and which actions can add infrastructure."""

from __future__ import annotations

import pytest
from scoring_helpers import action

from opsgym.scoring.actions import go_int, may_add_infrastructure, parse_action


@pytest.mark.parametrize("text, value", [
    ("0", 0), ("-0", 0), ("+0", 0), ("00", 0), ("010", 8), ("0x1F", 31), ("0o17", 15), ("0b101", 5), ("1_000", 1000),
    ("0_7", 7), ("0x_1", 1), ("-12", -12),
])
def test_go_int_reads_integers_as_gos_parseint_with_base_zero(text, value):
    assert go_int(text) == value


@pytest.mark.parametrize("text", ["", "-", "+-0", " 0", "08", "0x", "0b", "0o8", "0.0", "1e3", "_1", "1_", "1__0",
                                  "0b_", "zero"])
def test_go_int_gives_none_where_go_reports_a_syntax_error(text):
    assert go_int(text) is None


@pytest.mark.parametrize("text, verb", [
    ("kubectl scale deploy/checkout --replicas=8", ""),
    ("kubectl autoscale deploy/checkout --min=2 --max=10", ""),
    ("kubectl set resources deploy/checkout --limits=cpu=2", ""),
    ("""kubectl patch deploy checkout -p '{"spec": {"replicas": 4}}'""", ""),
    ("""kubectl patch deploy checkout -p '{"spec": {"template": {"spec": {"containers": [{"name": "c", """
     """"resources": {"requests": {"cpu": "2"}}}]}}}}'""", ""),
    ("""kubectl patch deploy checkout --type=json -p '[{"op": "replace", """
     """"path": "/spec/template/spec/containers/0/resources/limits/cpu", "value": "2"}]'""", ""),
    ("kubectl create deployment extra --image=nginx --replicas=3", ""),
    ("scale it up", "kubectl scale"),  # the verb the env recorded counts even when the text does not parse
])
def test_kubectl_scaling_and_resource_changes_may_add_infrastructure(text, verb):
    record = action(0, text, "mutate")
    record.verb = verb
    assert may_add_infrastructure(parse_action(record))


@pytest.mark.parametrize("text, cls, ok", [
    ("run echo resources", "mutate", True),  # a sandbox command that merely says the word
    ("edit src/resources.py 1:1\nreplicas: 5", "mutate", True),
    ("kubectl get deploy checkout -o jsonpath={.spec.template.spec.containers[0].resources}", "read", True),
    ("kubectl label deploy checkout team=resources", "mutate", True),
    ("kubectl scale deploy/checkout --replicas=8", "mutate", False),  # refused: changed nothing
])
def test_other_actions_add_no_infrastructure(text, cls, ok):
    record = action(0, text, cls, ok=ok)
    record.verb = text.split()[0]
    assert not may_add_infrastructure(parse_action(record))
