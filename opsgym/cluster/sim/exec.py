"""``kubectl exec`` in a simulated container: the commands an on-call engineer runs, answered from the pod's spec, the
kubelet's records, the store and the service programs, worded as the image's own tools print them.

Which commands exist, whose wording they use and the image's own environment come from the image catalog
(:func:`opsgym.cluster.sim.images.image_config`, ``images.yaml``; an image no catalog names reads as a Debian-based
image without extras). The shop runs ``python:3.12-slim``: Debian's coreutils, ``getent``, dash as ``sh``, bash and
python, but no ``ps``, ``wget``, ``curl`` or ``nslookup`` (procps, wget, curl and dnsutils are not in the slim images),
so there those are "executable file not found", as on kind. ``busybox`` and ``alpine`` have BusyBox's applets
(``wget``, ``nslookup``, ``ps``), ``curlimages/curl`` adds curl. A tool the image has but the simulator cannot run
(``python -c``) says so on stderr and exits 126; nothing runs on the host.

Direct commands that do not exist fail the way containerd reports it (an error Status, kubectl exits 1); inside
``sh -c`` they are the shell's ``not found`` with exit code 127. The same interpreter runs a generic container's main
process (:func:`interpret`, used by :mod:`opsgym.cluster.sim.generic`).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.execfs import Entry, container_files, pod_hostname
from opsgym.cluster.sim.execnet import PodNet
from opsgym.cluster.sim.execsh import Unsupported, parse
from opsgym.cluster.sim.exectools import FILTERS, Context, cat, follow, http_tool, lookup_tool, ls
from opsgym.cluster.sim.images import image_config

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["ExecResult", "context", "interpret", "run_exec"]

Obj = dict[str, Any]
SHELLS = frozenset({"sh", "bash", "ash", "dash"})
FOREVER = float("inf")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
UNSIMULATED = frozenset({"python", "python3"})
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
MAX_STEPS = 64
"""Commands one ``sh -c`` may run (the reader has no loops, so this only bounds very long scripts)."""


@dataclass
class ExecResult:
    argv: list[str]
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    failure: str | None = None
    """An error of the runtime (no such executable, container not running): reported instead of an exit code."""


@dataclass
class _Out:
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    code: int = 0
    log: list[str] = field(default_factory=list)
    """stdout and stderr interleaved as written (what a container's log shows)."""


def _id_line(ctx: Context) -> tuple[str, int]:
    uid, gid, groups = ctx.uid, ctx.gid, ctx.groups
    names = {0: "root"} | ({10: "wheel"} if ctx.flavour == "busybox" else {})
    label = lambda n: f"{n}({names[n]})" if n in names else str(n)  # noqa: E731
    extra = [10] if ctx.flavour == "busybox" and uid == 0 else []
    return f"uid={label(uid) if uid == 0 else uid} gid={label(gid)} groups=" + ",".join(
        label(g) for g in dict.fromkeys([*groups, *extra])), 0


def _builtin(ctx: Context, argv: list[str], stdin: str) -> _Out | None:
    """The commands answered from the pod itself; None when ``argv[0]`` is not one of them."""
    name, args, result = argv[0].rsplit("/", 1)[-1], argv[1:], _Out()
    if (name == "env" and not args) or (name == "printenv" and not args):
        result.out.append("".join(f"{k}={v}\n" for k, v in ctx.env.items()))
    elif name == "printenv":
        values = [ctx.env[a] for a in args if a in ctx.env]
        result.out.append("".join(v + "\n" for v in values))
        result.code = 0 if len(values) == len(args) else 1
    elif name == "echo":
        newline = not (args[:1] == ["-n"])
        result.out.append(" ".join(args[0 if newline else 1:]) + ("\n" if newline else ""))
    elif name == "hostname":
        result.out.append(pod_hostname(ctx.pod) + "\n")
    elif name == "pwd":
        result.out.append(ctx.cwd + "\n")
    elif name in ("true", "false"):
        result.code = int(name == "false")
    elif name == "id":
        line, result.code = _id_line(ctx)
        result.out.append(line + "\n")
    elif name == "whoami":
        if ctx.uid == 0:
            result.out.append("root\n")
        else:
            result.err.append(f"whoami: cannot find name for user ID {ctx.uid}\n" if ctx.flavour == "gnu" else
                              f"whoami: unknown uid {ctx.uid}\n")
            result.code = 1
    elif name == "date":
        result.out.append(time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime(ctx.now)) + "\n")
    elif name == "sleep":
        result.code = _sleep(ctx, args)
        if result.code:
            result.err.append(f"sleep: invalid time interval '{args[0] if args else ''}'\n" if ctx.flavour == "gnu"
                              else "sleep: invalid number\n")
    elif name == "ps":
        cmd = " ".join(ctx.command) or "/pause"
        user = "root" if ctx.uid == 0 else str(ctx.uid)
        result.out.append(f"PID   USER     TIME  COMMAND\n    1 {user:<8}  0:00 {cmd}\n"
                          f"{ctx.next_pid:>5} {user:<8}  0:00 {' '.join(argv)}\n")
    else:
        return None
    return result


def _sleep(ctx: Context, args: list[str]) -> int:
    """``sleep`` moves the command's own clock (``infinity`` never wakes); 1 for an interval it cannot read."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    for arg in args or ["?"]:
        number, unit = (arg[:-1], units[arg[-1]]) if arg[-1:] in units else (arg, 1)
        try:
            total += float(number) * unit
        except ValueError:
            return 1
    ctx.elapsed += total
    return 0


def _tool(ctx: Context, argv: list[str], stdin: str) -> _Out:
    name = argv[0].rsplit("/", 1)[-1]
    if name == "tail" and ("-f" in argv or "-F" in argv):  # follows its file for ever once it has printed it
        ctx.elapsed = FOREVER
        argv = [a for a in argv if a not in ("-f", "-F")]
    found = _builtin(ctx, argv, stdin)
    if found is not None:
        return found
    handler: Callable[[Context, list[str], str], tuple[str, str, int]] | None = {
        "cat": cat, "ls": ls, "wget": http_tool, "curl": http_tool, "nslookup": lookup_tool, "getent": lookup_tool,
        **FILTERS}.get(name)
    if handler is not None:
        out, err, code = handler(ctx, argv, stdin)
        return _Out([out], [err], code)
    ctx.unsimulated = True
    return _Out([], [f"opsgym: {name} is in the image but the embedded cluster does not simulate it (its containers "
                     "are simulated; no process runs)\n"], 126)


def _shell_builtin(ctx: Context, shell: str, argv: list[str], variables: dict[str, str]) -> _Out | None:
    """Assignments, ``export`` and ``cd``, which change the shell itself; None for any other command."""
    if all(ASSIGNMENT.match(word) for word in argv):
        variables.update(word.partition("=")[::2] for word in argv)
        return _Out()
    if argv[0] == "export":
        for word in argv[1:]:
            name, _, value = word.partition("=")
            variables[name] = value if "=" in word else variables.get(name, "")
            ctx.env[name] = variables[name]
        return _Out()
    if argv[0] != "cd":
        return None
    target = argv[1] if len(argv) > 1 else ctx.env.get("HOME", "/")
    path = follow(ctx, target)
    if path is not None and ctx.files[path].is_dir:
        ctx.cwd = path
        return _Out()
    if shell == "bash":
        return _Out([], [f"bash: line 1: cd: {target}: No such file or directory\n"], 1)
    return _Out([], [f"sh: 1: cd: can't cd to {target}\n" if ctx.flavour == "gnu" else
                     f"sh: cd: can't cd to {target}: No such file or directory\n"], 2)


def _shell(ctx: Context, shell: str, script: str) -> _Out:
    """``sh -c``/``bash -c``: run the script's pipelines over the simulated commands."""
    total = _Out()
    try:
        pipelines = parse(script)
    except Unsupported as exc:  # worded as the simulator's, not the shell's: no real shell says this
        ctx.unsimulated = True
        return _Out([], [f"{shell}: opsgym: {exc} is not simulated by the embedded cluster's shell\n"], 2)
    variables = dict(ctx.env)
    variables["?"], steps = "0", 0
    for pipeline in pipelines:
        last = int(variables["?"])
        if (pipeline.joiner == "&&" and last != 0) or (pipeline.joiner == "||" and last == 0):
            continue
        data = ""
        for command in pipeline.commands:
            steps += 1
            if steps > MAX_STEPS:
                return total
            argv = command.argv(variables)
            name = argv[0].rsplit("/", 1)[-1] if argv else ""
            if name == "exit":
                code = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else int(variables["?"])
                total.code = code % 256
                return total
            special = _shell_builtin(ctx, shell, argv, variables)
            if special is not None:
                step = special
            elif name in ctx.tools or name in ("echo", "true", "false", "pwd", "printenv"):
                step = _tool(ctx, argv, data)
            else:
                prefix = {"gnu": f"{shell}: 1: " if shell == "sh" else f"{shell}: line 1: ", "busybox": "sh: "}
                wording = "command not found" if shell == "bash" else "not found"
                step = _Out([], [f"{prefix[ctx.flavour]}{argv[0]}: {wording}\n"], 127)
            out, err = "".join(step.out), "".join(step.err)
            if command.stderr_to_stdout:
                out, err = out + err, ""
            elif command.stdout_to_stderr:
                out, err = "", err + out
            if command.drop_stdout:
                out = ""
            if command.drop_stderr:
                err = ""
            total.err.append(err)
            total.log.append(err)
            data = out
            variables["?"] = str(step.code)
            if ctx.elapsed == FOREVER:
                break
        total.out.append(data)
        total.log.append(data)
        if ctx.elapsed == FOREVER:
            break
    total.code = int(variables["?"])
    return total


def context(engine: Engine, pod: Obj, container: Obj, inputs: dict[str, Any], started: float,
            ca_pem: str = "") -> Context:
    """What a process started in the container with the kubelet's ``inputs`` (its env and command) sees."""
    image = image_config(str(container.get("image", "")))
    security = {**((pod.get("spec") or {}).get("securityContext") or {}), **(container.get("securityContext") or {})}
    uid, gid = int(security.get("runAsUser") or 0), int(security.get("runAsGroup") or 0)
    pod_security = (pod.get("spec") or {}).get("securityContext") or {}
    groups = [gid, *(pod_security.get("supplementalGroups") or [])]
    fs_group = pod_security.get("fsGroup")
    net = PodNet(engine, pod)
    image_env = dict(image.env)
    env = {"PATH": image_env.pop("PATH", DEFAULT_PATH), "HOSTNAME": pod_hostname(pod), **image_env}
    env.update(inputs["env"])
    env.setdefault("HOME", "/root" if uid == 0 else "/")
    files = container_files(engine.store, pod, container, net.ip, started, ca_pem)
    mounts = [m.get("mountPath", "").rstrip("/") + "/" for m in container.get("volumeMounts") or []]
    for path, content in image.files:  # the image's own files, unless a volume is mounted over them
        if not any(path.startswith(mount) for mount in mounts):
            files[path] = Entry(content, mtime=started)
            parent = posixpath.dirname(path)
            while parent not in files:
                files[parent] = Entry(mtime=started, mode=0o755)
                parent = posixpath.dirname(parent)
    return Context(pod=pod, env=env, files=files, flavour=image.shell, tools=image.bin or frozenset(), uid=uid,
                   gid=gid, groups=[*groups, *([fs_group] if fs_group is not None else [])],
                   cwd=container.get("workingDir") or "/", now=engine.clock.now, command=list(inputs["command"]),
                   net=net, next_pid=7 + int(engine.clock.now) % 40)


def _not_found(engine: Engine, pod: Obj, container: str, name: str) -> str:
    exec_id = hashlib.sha256(f"{pod['metadata'].get('uid')}/{container}/{engine.clock.now}/{name}".encode())
    reason = f"stat {name}: no such file or directory" if name.startswith("/") else \
        "executable file not found in $PATH"
    return ("Internal error occurred: error executing command in container: failed to exec in container: failed to "
            f'start exec "{exec_id.hexdigest()}": OCI runtime exec failed: exec failed: unable to start container '
            f'process: exec: "{name}": {reason}: unknown')


def run_exec(engine: Engine, pod: Obj, container_name: str, argv: list[str], stdin: bytes = b"", *,
             ca_pem: str = "") -> ExecResult:
    """Run ``argv`` in the pod's container as the kubelet and containerd would (the caller holds the engine lock)."""
    record = engine.kubelet.state.get(pod["metadata"].get("uid", ""))
    crec = record.containers.get(container_name) if record is not None else None
    inst = crec.current if crec is not None else None
    if inst is None or inst.finished is not None:
        return ExecResult(argv, failure=f'unable to upgrade connection: container not found ("{container_name}")')
    spec = pod.get("spec") or {}
    container = next(c for c in (spec.get("containers") or []) + (spec.get("initContainers") or []) +
                     (spec.get("ephemeralContainers") or []) if c.get("name") == container_name)
    ctx = context(engine, pod, container, inst.inputs, inst.started, ca_pem)
    if argv[0].rsplit("/", 1)[-1] not in ctx.tools:
        return ExecResult(argv, failure=_not_found(engine, pod, container_name, argv[0]))
    result = interpret(ctx, argv, stdin.decode("utf-8", "replace"))
    return ExecResult(argv, "".join(result.out).encode(), "".join(result.err).encode(), result.code)


def interpret(ctx: Context, argv: list[str], stdin: str) -> _Out:
    """Run one command line (an executable the image has) through the simulated tools and shell; afterwards
    ``ctx.elapsed`` is how long it took and ``ctx.unsimulated`` says whether it met something the simulator cannot
    run (its answer is then a stand-in, not what the image would print)."""
    name = argv[0].rsplit("/", 1)[-1]
    if name in SHELLS and len(argv) >= 3 and argv[1] == "-c":
        return _shell(ctx, name, argv[2])
    if name in SHELLS and len(argv) == 1:
        return _shell(ctx, name, stdin)
    if name in SHELLS:  # a script file, or options the reader does not know
        ctx.unsimulated = True
        return _Out([], [], 126)
    result = _tool(ctx, ["python"] if name in UNSIMULATED else argv, stdin)
    result.log = [*result.out, *result.err]
    return result
