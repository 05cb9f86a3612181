"""Reading what an action did: integers read as kubectl reads them, which actions can add infrastructure, and the
same reading from a record the env writes now and from an old one that holds only the text."""

from __future__ import annotations

import pytest
from scoring_helpers import GOOD_ANSWER, action, outcome

from opsgym.cluster.kubectl import parse
from opsgym.k8s.goint import go_int
from opsgym.scoring.actions import may_add_infrastructure, parse_action
from opsgym.scoring.penalties import evaluate_rules


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


RECORDED = [
    "kubectl delete deploy/checkout -n shop --grace-period 0 --force",
    "kubectl delete deploy,svc checkout -n shop",
    "kubectl scale deployment checkout --replicas 0x0 -n shop",
    "kubectl get secret payment-keys -n shop -oyaml",
    "kubectl get secrets -n shop --output=jsonpath={.items[0].data}",
    """kubectl patch deploy checkout -n shop --type=json -p '[{"op": "remove", "path": """
    """"/spec/template/spec/containers/0/livenessProbe"}]'""",
    "kubectl set resources deploy/checkout -n shop --limits=cpu=2",
    "kubectl rollout restart deployment.apps/checkout -n shop",
    "kubectl delete ns shop",
]


def _new_record(index: int, text: str):
    """A record as the env writes it now: the parser's verb, class, targets, notes and options."""
    command = parse(text, default_namespace="shop")
    record = action(index, text, command.cls, targets=command.targets, flags=command.flags,
                    detail={**command.detail, "exit_code": 0})
    record.verb = command.verb
    return record


@pytest.mark.parametrize("text", RECORDED)
def test_a_new_record_and_an_old_text_only_record_read_the_same(text):
    new = _new_record(0, text)
    assert "options" in new.detail
    old = action(0, text, new.cls)  # written before the env kept options: no verb, targets, notes or detail
    a, b = parse_action(new), parse_action(old)
    assert (a.verb, a.kinds, a.names, a.flags) == (b.verb, b.kinds, b.names, b.flags)
    assert a.verb.startswith("kubectl ") and a.kinds
    assert may_add_infrastructure(a) == may_add_infrastructure(b)


def test_scoring_gives_the_same_answer_from_new_and_old_records():
    def firings(records):
        return sorted((f.rule, f.action_index) for f in evaluate_rules(outcome(actions=records, answer=GOOD_ANSWER)))

    new = [_new_record(i, text) for i, text in enumerate(RECORDED)]
    old = [action(i, text, r.cls, flags=r.flags) for i, (text, r) in enumerate(zip(RECORDED, new, strict=True))]
    found = firings(new)
    assert found == firings(old)
    assert {"delete-workload", "delete-service", "force-destructive", "scale-to-zero", "print-secret",
            "disable-probe", "delete-namespace"} <= {rule for rule, _ in found}


def test_scoring_reads_the_recorded_options_not_the_text():
    record = _new_record(0, "kubectl scale deployment checkout --replicas=3 -n shop")
    record.detail["options"]["--replicas"] = ["0"]  # what the env's parser read is what counts
    assert parse_action(record).flags["--replicas"] == "0"
