"""Reading what an action did from its record: verb, class, targets and the flags as the env's parser read them.

The env parses every kubectl command once, with kubectl's own rules (:func:`opsgym.cluster.kubectl.parse`), and puts
what it found into the step's :class:`~opsgym.outcome.ActionRecord`: the command (``verb``), its class, its targets
with canonical kinds, the notes penalty rules read (``flags``) and every flag's values (``detail["options"]``). The
rules read those fields. A record written before ``detail["options"]`` existed is read by running the same parser on
its stored text (:func:`_command_of`, the one place that does), so old records score as they did. Nothing is
executed.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

from opsgym.k8s.goint import go_int
from opsgym.k8s.kinds import canonical_kind
from opsgym.outcome import ActionRecord, Target

__all__ = ["ParsedAction", "may_add_infrastructure", "parse_action", "sets_zero_replicas"]


@dataclass
class ParsedAction:
    """An action record with the parts the rules ask about: kinds and names of its targets, and its flags (long
    names, last value) as kubectl read them."""

    record: ActionRecord
    tokens: list[str]
    verb: str = ""
    kinds: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """Action text plus its recorded detail, lower-cased, for content checks (patch bodies, edits). The parsed
        options are left out: they repeat the text, and a content check must read the same in old and new records."""
        facts = {k: v for k, v in self.record.detail.items() if k != "options"}
        detail = json.dumps(facts, sort_keys=True, default=str) if facts else ""
        return f"{self.record.action}\n{detail}".lower()

    @property
    def mutating(self) -> bool:
        return self.record.cls in ("mutate", "destructive")

    def has_kind(self, *kinds: str) -> bool:
        wanted = set(kinds)
        return any(k in wanted for k in self.kinds)

    def has_flag(self, name: str) -> bool:
        recorded = self.record.flags
        return name in self.flags or name in recorded or any(f.startswith(name + "=") for f in recorded)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text, posix=True)
    except ValueError:  # unbalanced quotes: still look at the words
        return text.split()


def _command_of(record: ActionRecord) -> tuple[str, list[Target], dict[str, list[str]]]:
    """A kubectl record's verb, targets and options: from its fields, or — for a record written before the env kept
    ``detail["options"]``, or by another env — from the env's own parser (:func:`opsgym.cluster.kubectl.read`, the
    same reading without opsgym's policy) run on the stored text. A command kubectl itself would refuse did nothing:
    no verb, no targets, no options."""
    options = record.detail.get("options")
    if isinstance(options, dict):
        return record.verb, list(record.targets), {str(k): [str(v) for v in vs] for k, vs in options.items()}
    from opsgym.cluster.kubectl import Rejected, read  # the front-end is only needed for such records

    try:
        command = read(record.action)
    except Rejected:
        return record.verb, list(record.targets), {}
    return command.verb, list(record.targets) or command.targets, dict(command.detail.get("options") or {})


def parse_action(record: ActionRecord) -> ParsedAction:
    """Read one recorded action. Non-kubectl actions keep their first word as verb."""
    tokens = _split(record.action)
    parsed = ParsedAction(record=record, tokens=tokens)
    targets: list[Target] = list(record.targets)
    options: dict[str, list[str]] = {}
    heredoc_first = tokens[:1] == ["cat"] and "options" in record.detail  # `cat <<EOF | kubectl apply -f -`
    if (tokens and tokens[0] == "kubectl") or heredoc_first:
        parsed.verb, targets, options = _command_of(record)
    elif tokens:
        parsed.verb = tokens[0]
    parsed.flags = {name: values[-1] if values else "" for name, values in options.items()}
    parsed.kinds = [canonical_kind(k) for t in targets if t.kind for k in t.kind.split(",") if k]
    parsed.names = [t.name for t in targets if t.name]
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


_COST_VERBS = ("kubectl scale", "kubectl autoscale", "kubectl set resources", "kubectl create service loadbalancer")
_COST_FLAGS = ("--replicas", "--requests", "--limits")
_COST_FIELDS = re.compile(r"[\"']?\b(?:resources|replicas)\b[\"']?\s*:|/(?:resources|replicas)\b")


def may_add_infrastructure(parsed: ParsedAction) -> bool:
    """A successful kubectl change that can cost money: scaling, autoscaling, or changing resource requests/limits.

    Only kubectl verbs count, read from the parsed command (or the verb the env recorded), never a word anywhere in
    the text: ``run echo resources`` in a sandbox adds no infrastructure. A patch/apply/create counts when its body
    (a patch, or the manifest of an ``apply -f -`` heredoc) sets ``replicas`` or ``resources`` (as a key, or a
    JSON-patch path), when it passes ``--replicas``, ``--requests`` or ``--limits``, and so does a LoadBalancer
    Service (``expose --type=LoadBalancer``, ``create service loadbalancer``).
    """
    record = parsed.record
    if not record.ok or record.cls != "mutate":
        return False
    verbs = {parsed.verb, record.verb}
    if verbs & set(_COST_VERBS) or parsed.flags.get("--type", "").lower() == "loadbalancer":
        return True  # a LoadBalancer Service (kubectl expose --type=LoadBalancer) rents a cloud load balancer
    if not any(v.startswith("kubectl ") for v in verbs):
        return False
    return any(f in parsed.flags for f in _COST_FLAGS) or bool(_COST_FIELDS.search(parsed.text))
