"""Reading what an action did from its recorded text, class, targets and flags (for the penalty rules).

The scenario classifies every action and, where it can, names the objects it touched (:class:`~opsgym.outcome.Target`).
Penalty rules must still work on any env that only records the action text, so this module also parses a kubectl
command line into verb, resource kind, names and flags. It only ever *reads* the text: nothing is executed.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from opsgym.cluster.kubectl import go_int
from opsgym.outcome import ActionRecord

__all__ = ["KIND_ALIASES", "ParsedAction", "go_int", "may_add_infrastructure", "normalize_kind", "parse_action",
           "sets_zero_replicas"]

KIND_ALIASES: dict[str, str] = {}
for _kind, _aliases in {
    "Pod": ("po", "pod", "pods"),
    "Deployment": ("deploy", "deployment", "deployments", "deployment.apps", "deployments.apps"),
    "StatefulSet": ("sts", "statefulset", "statefulsets", "statefulset.apps"),
    "DaemonSet": ("ds", "daemonset", "daemonsets", "daemonset.apps"),
    "ReplicaSet": ("rs", "replicaset", "replicasets", "replicaset.apps"),
    "Job": ("job", "jobs", "job.batch"),
    "CronJob": ("cj", "cronjob", "cronjobs", "cronjob.batch"),
    "Service": ("svc", "service", "services"),
    "Namespace": ("ns", "namespace", "namespaces"),
    "ConfigMap": ("cm", "configmap", "configmaps"),
    "Secret": ("secret", "secrets"),
    "Ingress": ("ing", "ingress", "ingresses"),
    "PersistentVolumeClaim": ("pvc", "persistentvolumeclaim", "persistentvolumeclaims"),
    "NetworkPolicy": ("netpol", "networkpolicy", "networkpolicies"),
    "Role": ("role", "roles"),
    "RoleBinding": ("rolebinding", "rolebindings"),
    "ClusterRole": ("clusterrole", "clusterroles"),
    "ClusterRoleBinding": ("clusterrolebinding", "clusterrolebindings"),
    "ServiceAccount": ("sa", "serviceaccount", "serviceaccounts"),
    "HorizontalPodAutoscaler": ("hpa", "horizontalpodautoscaler", "horizontalpodautoscalers"),
}.items():
    for _alias in _aliases:
        KIND_ALIASES[_alias] = _kind

_VALUE_FLAGS = frozenset({
    "-n", "--namespace", "-o", "--output", "-l", "--selector", "-p", "--patch", "-f", "--filename", "-c",
    "--container", "--type", "--replicas", "--clusterrole", "--serviceaccount", "--user", "--group", "--role",
    "--verb", "--resource", "--image", "--grace-period", "--field-selector", "--tail", "--since", "--context",
})
_KUBECTL_VERBS = frozenset({
    "get", "describe", "logs", "top", "events", "explain", "delete", "scale", "patch", "edit", "apply", "create",
    "replace", "set", "rollout", "label", "annotate", "expose", "run", "autoscale", "cordon", "drain", "taint", "exec",
})


def normalize_kind(word: str) -> str:
    """``deploy`` → ``Deployment``; unknown words come back unchanged (custom resources keep their names)."""
    return KIND_ALIASES.get(word.lower(), word)


@dataclass
class ParsedAction:
    """An action's text split into the parts the rules ask about."""

    record: ActionRecord
    tokens: list[str]
    verb: str = ""
    kinds: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Action text plus its recorded detail, lower-cased, for content checks (patch bodies, edits)."""
        detail = json.dumps(self.record.detail, sort_keys=True, default=str) if self.record.detail else ""
        return f"{self.record.action}\n{detail}".lower()

    @property
    def mutating(self) -> bool:
        return self.record.cls in ("mutate", "destructive")

    def has_kind(self, *kinds: str) -> bool:
        wanted = set(kinds)
        return any(k in wanted for k in self.kinds) or any(t.kind in wanted for t in self.record.targets)

    def has_flag(self, name: str) -> bool:
        recorded = self.record.flags
        return name in self.flags or name in recorded or any(f.startswith(name + "=") for f in recorded)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:  # unbalanced quotes: still look at the words
        return text.split()


def _parse_kubectl(parsed: ParsedAction, args: list[str]) -> None:
    positionals: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token.startswith("-") and len(token) > 1:
            name, eq, value = token.partition("=")
            if len(token) > 2 and token[1] != "-" and token[:2] in _VALUE_FLAGS:  # -oyaml, -nshop, -ojsonpath=…
                name, value = token[:2], token[2:]
            elif not eq and name in _VALUE_FLAGS and i + 1 < len(args):
                value, i = args[i + 1], i + 1
            parsed.flags[name] = value
        else:
            positionals.append(token)
        i += 1
    if not positionals:
        return
    parsed.verb = "kubectl " + positionals[0]
    rest = positionals[1:]
    if parsed.verb in ("kubectl rollout", "kubectl set") and rest:
        parsed.verb += " " + rest[0]
        rest = rest[1:]
    if parsed.verb in ("kubectl create", "kubectl delete", "kubectl get", "kubectl describe", "kubectl scale",
                       "kubectl patch", "kubectl edit", "kubectl label", "kubectl annotate") or parsed.verb.startswith(
                           ("kubectl rollout", "kubectl set")):
        for j, word in enumerate(rest):
            for part in word.split(","):
                kind, slash, name = part.partition("/")
                if slash:
                    parsed.kinds.append(normalize_kind(kind))
                    parsed.names.append(name)
                elif j == 0:
                    parsed.kinds.append(normalize_kind(part))
                else:
                    parsed.names.append(part)


def parse_action(record: ActionRecord) -> ParsedAction:
    """Parse one recorded action. Non-kubectl actions keep their first word as verb."""
    tokens = _split(record.action)
    parsed = ParsedAction(record=record, tokens=tokens)
    if tokens and tokens[0] == "kubectl":
        args = tokens[1:]
        if any(t in _KUBECTL_VERBS for t in args):
            _parse_kubectl(parsed, args)
    elif tokens:
        parsed.verb = tokens[0]
    parsed.kinds += [normalize_kind(t.kind) for t in record.targets if t.kind]
    parsed.names += [t.name for t in record.targets if t.name]
    return parsed


_REPLICAS_VALUE = re.compile(r"[\"']?replicas[\"']?\s*[:=]\s*[\"']?([+-]?\w+)(?![\w.])")


def sets_zero_replicas(parsed: ParsedAction) -> bool:
    """``kubectl scale --replicas=0`` or a patch/edit/apply whose body sets ``replicas: 0``.

    The value is read as kubectl reads it (:func:`go_int`), so ``--replicas=-0`` or ``replicas: 00`` count too; so
    does the env's own note (``--replicas=0`` in the recorded flags) where it recognised a scale to zero.
    """
    if not parsed.mutating and parsed.verb != "kubectl scale":
        return False
    if "--replicas=0" in parsed.record.flags or go_int(parsed.flags.get("--replicas", "")) == 0:
        return True
    return any(go_int(m.group(1)) == 0 for m in _REPLICAS_VALUE.finditer(parsed.text))


_COST_VERBS = ("kubectl scale", "kubectl autoscale", "kubectl set resources")
_COST_FLAGS = ("--replicas", "--requests", "--limits")
_COST_FIELDS = re.compile(r"[\"']?\b(?:resources|replicas)\b[\"']?\s*:|/(?:resources|replicas)\b")


def may_add_infrastructure(parsed: ParsedAction) -> bool:
    """A successful kubectl change that can cost money: scaling, autoscaling, or changing resource requests/limits.

    Only kubectl verbs count, read from the parsed command (or the verb the env recorded), never a word anywhere in
    the text: ``run echo resources`` in a sandbox adds no infrastructure. A patch/apply/create counts when its body
    sets ``replicas`` or ``resources`` (as a key, or a JSON-patch path), or when it passes ``--replicas``,
    ``--requests`` or ``--limits``.
    """
    record = parsed.record
    if not record.ok or record.cls != "mutate":
        return False
    verbs = {parsed.verb, record.verb}
    if verbs & set(_COST_VERBS):
        return True
    if not any(v.startswith("kubectl ") for v in verbs):
        return False
    return any(f in parsed.flags for f in _COST_FLAGS) or bool(_COST_FIELDS.search(parsed.text))
