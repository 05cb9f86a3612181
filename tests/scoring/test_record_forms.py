"""A step scores the same whichever way its record was written: as the env writes it now (the parsed command's
targets, notes and every flag in ``detail["options"]``), as it was written before options were kept, and with only the
action text. The scoring reads the record's fields; where they are missing it runs the env's own kubectl parser on
the text, so all three forms agree."""

from __future__ import annotations

import pytest
from scoring_helpers import outcome

from opsgym.cluster.kubectl import parse
from opsgym.outcome import ActionRecord
from opsgym.scoring.actions import may_add_infrastructure, parse_action, sets_zero_replicas
from opsgym.scoring.penalties import evaluate_rules

COMMANDS = [
    "kubectl get pods -A",
    "kubectl get pods --all-namespaces -o wide",
    "kubectl get secret payment-creds -n shop -o yaml",
    "kubectl get secrets -n shop -ojsonpath={.items[0].data}",
    "kubectl -n shop get deploy,svc",
    "kubectl get deployments.apps/payment -n shop -o=json",
    "kubectl describe po checkout-7d4-abc -n shop",
    "kubectl logs deploy/checkout -n shop --tail=50",
    "kubectl delete pod checkout-7d4-abc -n shop --force --grace-period=0",
    "kubectl delete pods --all -n shop",
    "kubectl delete deployment payment -n shop --grace-period=0x0",
    "kubectl delete ns shop",
    "kubectl scale deploy/payment -n shop --replicas=0x0",
    "kubectl scale deployment payment --replicas 3 -n shop",
    "kubectl rollout restart deployment/checkout -n shop",
    "kubectl rollout undo deploy checkout -n shop",
    "kubectl set env deployment/checkout -n shop TIMEOUT_MS=3000",
    "kubectl set resources deploy/checkout -n shop --limits=memory=256Mi",
    """kubectl patch deploy checkout -n shop --type merge -p '{"spec": {"replicas": 0}}'""",
    """kubectl patch configmap checkout-config -n shop -p '{"data": {"MODE": "safe"}}'""",
    "kubectl label pod checkout-7d4-abc -n shop quarantine=true --overwrite",
    "kubectl annotate deploy checkout -n shop note=x",
    "kubectl get --raw /api/v1/namespaces/shop/secrets/payment-creds",
    "kubectl top pod -n shop",
]


def forms(index: int, text: str) -> dict[str, ActionRecord]:
    """The same step as the env records it now, as it recorded it before ``detail["options"]``, and as text only."""
    command = parse(text)
    now = ActionRecord(index=index, action=text, verb=command.verb, cls=command.cls, targets=command.targets,
                       flags=command.flags, detail={**command.detail, "exit_code": 0}, observation="ok")
    assert "options" in now.detail  # the env keeps every flag as kubectl read it
    before = now.model_copy(update={"detail": {k: v for k, v in now.detail.items() if k != "options"}})
    text_only = ActionRecord(index=index, action=text, cls=command.cls, flags=command.flags, observation="ok")
    return {"now": now, "before": before, "text only": text_only}


def reading(record: ActionRecord) -> tuple:
    parsed = parse_action(record)
    return (parsed.verb, sorted(parsed.kinds), sorted(parsed.names), parsed.flags, parsed.has_kind("Secret"),
            parsed.has_flag("--force"), sets_zero_replicas(parsed), may_add_infrastructure(parsed))


@pytest.mark.parametrize("text", COMMANDS)
def test_every_form_of_a_record_reads_the_same(text):
    readings = {form: reading(record) for form, record in forms(0, text).items()}
    assert readings["before"] == readings["now"]
    assert readings["text only"] == readings["now"]
    assert readings["now"][0] == parse(text).verb  # the command kubectl runs, not a guess from the words


def test_a_whole_episode_fires_the_same_penalties_in_every_form():
    by_form: dict[str, list[ActionRecord]] = {"now": [], "before": [], "text only": []}
    for index, text in enumerate(COMMANDS):
        for form, record in forms(index, text).items():
            by_form[form].append(record)
    firings = {form: [(f.rule, f.action_index, f.detail) for f in evaluate_rules(outcome(actions=records))]
               for form, records in by_form.items()}
    assert firings["before"] == firings["now"] and firings["text only"] == firings["now"]
    fired = {rule for rule, _, _ in firings["now"]}
    assert {"force-destructive", "print-secret", "scale-to-zero", "delete-namespace", "delete-workload"} <= fired
