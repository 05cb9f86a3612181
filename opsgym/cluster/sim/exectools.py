"""The file, network and text tools of a simulated container (``cat``, ``ls``, ``wget``, ``curl``, ``nslookup``,
``getent``, ``grep``, ``head``, ``tail``, ``wc``, ``sort``), each worded as GNU coreutils/glibc or BusyBox print it,
by the image's ``flavour``. A tool is ``tool(ctx, argv, stdin) -> (stdout, stderr, exit code)``.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opsgym.cluster.sim.execfs import Entry
from opsgym.cluster.sim.execnet import PodNet

__all__ = ["FILTERS", "Context", "cat", "follow", "http_tool", "lookup_tool", "ls"]

Tool = Callable[["Context", list[str], str], tuple[str, str, int]]
SIX_MONTHS_S = 182 * 86400


@dataclass
class Context:
    """What a command in the container can see."""

    pod: dict[str, Any]
    env: dict[str, str]
    files: dict[str, Entry]
    flavour: str
    """``gnu`` (Debian-based images) or ``busybox`` (busybox, alpine): whose wording the tools use."""
    tools: frozenset[str]
    uid: int
    gid: int
    groups: list[int]
    cwd: str
    now: float
    command: list[str]
    net: PodNet
    next_pid: int = 7
    seen: set[str] = field(default_factory=set)
    elapsed: float = 0.0
    """Seconds the commands run so far took (``sleep``; infinite for ``sleep infinity``, ``tail -f``)."""
    unsimulated: bool = False
    """Whether a command met something the simulator cannot run (the answer is then a stand-in)."""


def follow(ctx: Context, path: str, *, last: bool = True) -> str | None:
    """``path`` made absolute with its symbolic links resolved (``last``: also the final one); None if missing."""
    parts = [p for p in posixpath.normpath(posixpath.join(ctx.cwd, path)).split("/") if p]
    current = "/"
    for _ in range(40):
        if not parts:
            return current
        candidate = posixpath.join(current, parts.pop(0))
        entry = ctx.files.get(candidate)
        if entry is None:
            return None
        if entry.target is not None and (parts or last):
            target = posixpath.join(posixpath.dirname(candidate), entry.target)
            parts = [p for p in posixpath.normpath(target).split("/") if p] + parts
            current = "/"
            continue
        current = candidate
    return None


def _children(ctx: Context, directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return sorted({p[len(prefix):].split("/", 1)[0] for p in ctx.files if p.startswith(prefix) and p != prefix})


def cat(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    out, err, code = [], [], 0
    for name in argv[1:] or ["-"]:
        if name == "-":
            out.append(stdin)
            continue
        path = follow(ctx, name)
        entry = ctx.files.get(path) if path else None
        if entry is None:
            err.append(f"cat: {name}: No such file or directory\n" if ctx.flavour == "gnu" else
                       f"cat: can't open '{name}': No such file or directory\n")
            code = 1
        elif entry.is_dir:
            err.append(f"cat: {name}: Is a directory\n" if ctx.flavour == "gnu" else
                       "cat: read error: Is a directory\n")
            code = 1
        else:
            out.append(entry.content or "")
    return "".join(out), "".join(err), code


def _mode(entry: Entry) -> str:
    kind = "l" if entry.target is not None else "d" if entry.is_dir else "-"
    bits = "".join(c if entry.mode & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))
    if entry.mode & 0o1000:
        bits = bits[:8] + ("t" if bits[8] == "x" else "T")
    return kind + bits


def _long(ctx: Context, rows: list[tuple[str, Entry, str]]) -> list[str]:
    """``ls -l`` lines for (name, entry, full path)."""
    def when(entry: Entry) -> str:
        stamp = time.gmtime(entry.mtime)
        recent = 0 <= ctx.now - entry.mtime < SIX_MONTHS_S
        return time.strftime("%b %e %H:%M" if recent else "%b %e  %Y", stamp)

    def links(path: str, entry: Entry) -> int:
        return 2 + sum(1 for c in _children(ctx, path) if ctx.files[f"{path.rstrip('/')}/{c}"].is_dir) \
            if entry.is_dir else 1

    def size(path: str, entry: Entry) -> int:
        return 20 * (len(_children(ctx, path)) + 2) if entry.tmpfs and entry.is_dir else entry.size

    cells = [(_mode(e), links(p, e), size(p, e), when(e), n + (f" -> {e.target}" if e.target else ""))
             for n, e, p in rows]
    if ctx.flavour == "busybox":
        return [f"{m:<10} {k:>4} {'root':<8} {'root':<8} {s:>9} {w} {n}" for m, k, s, w, n in cells]
    wk, ws = max((len(str(c[1])) for c in cells), default=1), max((len(str(c[2])) for c in cells), default=1)
    return [f"{m} {k:>{wk}} root root {s:>{ws}} {w} {n}" for m, k, s, w, n in cells]


def ls(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    flags, names = set(), []
    for arg in argv[1:]:
        if arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag not in "la1AhF":
                    return "", (f"ls: invalid option -- '{flag}'\nTry 'ls --help' for more information.\n"
                                if ctx.flavour == "gnu" else f"ls: unrecognized option: {flag}\n"), 2
                flags.add(flag)
        else:
            names.append(arg)
    out, err, code, blocks = [], [], 0, []
    for name in names or ["."]:
        path = follow(ctx, name, last="l" not in flags or name.endswith("/"))
        entry = ctx.files.get(path) if path else None
        if entry is None:
            err.append(f"ls: cannot access '{name}': No such file or directory\n" if ctx.flavour == "gnu" else
                       f"ls: {name}: No such file or directory\n")
            code = 2 if ctx.flavour == "gnu" else 1
            continue
        if not entry.is_dir:
            out.append("\n".join(_long(ctx, [(name, entry, path or name)])) + "\n" if "l" in flags else name + "\n")
            continue
        listed = [c for c in _children(ctx, path or "/") if not c.startswith(".") or flags & {"a", "A"}]
        rows = [(c, ctx.files[f"{(path or '/').rstrip('/')}/{c}"], f"{(path or '/').rstrip('/')}/{c}") for c in listed]
        if "a" in flags:
            parent = posixpath.dirname(path or "/")
            rows = [(".", entry, path or "/"), ("..", ctx.files.get(parent, entry), parent), *rows]
        header = f"{name}:\n" if len(names) > 1 else ""
        if "l" in flags:
            total = sum(0 if e.target or (e.tmpfs and e.is_dir) else 4 for _, e, _ in rows)
            lines = ([f"total {total}"] if ctx.flavour == "gnu" else []) + _long(ctx, rows)
        else:
            lines = [n for n, _, _ in rows]
        blocks.append(header + "".join(line + "\n" for line in lines))
    out.append("\n".join(blocks))
    return "".join(out), "".join(err), code


# ---------------------------------------------------------------------------------------------------- network
def _url(text: str) -> tuple[str, int, str]:
    rest = text.split("://", 1)[1] if "://" in text else text
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port) if port.isdigit() else 80, "/" + path


def http_tool(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    """``wget`` (BusyBox) and ``curl``: one GET through the simulated network."""
    curl = argv[0].rsplit("/", 1)[-1] == "curl"
    args, url, limit = argv[1:], "", None
    opts = {"quiet": False, "stdout": curl, "fail": False, "show": False}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-m", "--max-time", "--connect-timeout", "-T") and i + 1 < len(args):
            limit, i = float(args[i + 1]), i + 2
            continue
        if arg in ("-O", "-o") and i + 1 < len(args):
            opts["stdout"], i = args[i + 1] == "-", i + 2
            continue
        if arg.startswith("-") and not arg.startswith("--"):
            opts["quiet"] = opts["quiet"] or "q" in arg or (curl and "s" in arg)
            opts["show"] = opts["show"] or (curl and "S" in arg)
            opts["fail"] = opts["fail"] or (curl and "f" in arg)
            opts["stdout"] = opts["stdout"] or arg.endswith("O-")
        elif arg in ("--silent", "--quiet"):
            opts["quiet"] = True
        elif not arg.startswith("-"):
            url = arg
        i += 1
    if not url:
        return "", ("curl: try 'curl --help' or 'curl --manual' for more information\n" if curl else
                    "BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\nUsage: wget [OPTIONS] URL...\n"), \
            2 if curl else 1
    host, port, path = _url(url)
    speak = not opts["quiet"] or (curl and opts["show"])

    def fail(curl_code: int, curl_text: str, wget_text: str) -> tuple[str, str, int]:
        if curl:
            return "", f"curl: ({curl_code}) {curl_text}\n" if speak else "", curl_code
        return "", f"wget: {wget_text}\n", 1

    dns = ctx.net.resolve(host) if ctx.net.dns_reachable() or re.match(r"^[\d.]+$", host) else None
    if dns is None:
        return fail(6, f"Could not resolve host: {host}", f"bad address '{host}'")
    ip = dns[1][0]
    conn = ctx.net.connect(ip, port)
    if conn.outcome == "refused":
        return fail(7, f"Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server",
                    f"can't connect to remote host ({ip}): Connection refused")
    if conn.outcome == "timeout":
        if limit is not None:
            return fail(28, f"Connection timed out after {int(limit * 1000) + 1} milliseconds", "download timed out")
        return fail(28, f"Failed to connect to {host} port {port} after 133988 ms: Couldn't connect to server",
                    f"can't connect to remote host ({ip}): Connection timed out")
    status, _, body = ctx.net.get(conn, path)
    reason = _phrase(status)
    if curl:
        if opts["fail"] and status >= 400:
            return fail(22, f"The requested URL returned error: {status}", "")
        size = len(body.encode())
        meter = "" if opts["quiet"] else (
            "  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
            "                                 Dload  Upload   Total   Spent    Left  Speed\n"
            f"100 {size:>5}  100 {size:>5}    0     0  {size * 500:>5}      0 --:--:-- --:--:-- --:--:-- "
            f"{size * 500:>5}\n")
        return body, meter, 0
    notes = "" if opts["quiet"] else f"Connecting to {host}:{port} ({ip}:{port})\n"
    if status >= 300:
        return "", notes + f"wget: server returned error: HTTP/1.0 {status} {reason}\n", 1
    name = posixpath.basename(path) or "index.html"
    if not opts["stdout"]:
        return "", notes + ("" if opts["quiet"] else f"saving to '{name}'\n'{name}' saved\n"), 0
    return body, notes + ("" if opts["quiet"] else "writing to stdout\nwritten to stdout\n"), 0


def _phrase(status: int) -> str:
    import http

    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def lookup_tool(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    """``nslookup NAME`` (BusyBox) and ``getent hosts NAME`` (glibc) against cluster DNS."""
    if argv[0].rsplit("/", 1)[-1] == "getent":
        if len(argv) < 3 or argv[1] not in ("hosts", "ahosts"):
            return "", f"Unknown database: {argv[1] if len(argv) > 1 else ''}\n", 1
        if not ctx.net.dns_reachable() and not re.match(r"^[\d.]+$", argv[2]):
            return "", "", 2
        found = ctx.net.resolve(argv[2])
        if found is None:
            return "", "", 2
        return "".join(f"{ip:<15} {found[0]}\n" for ip in found[1]), "", 0
    if len(argv) < 2:
        return "", ("BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n"
                    "Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]\n"), 1
    name = argv[-1] if len(argv) == 2 else argv[1]
    header = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
    if not ctx.net.dns_reachable():
        return ";; connection timed out; no servers could be reached\n\n", "", 1
    found = ctx.net.resolve(name)
    if found is None:
        return header + f"** server can't find {name}: NXDOMAIN\n\n", "", 1
    return header + "".join(f"Name:\t{found[0]}\nAddress: {ip}\n" for ip in found[1]) + "\n", "", 0


# ---------------------------------------------------------------------------------------------------- filters
def _input(ctx: Context, files: list[str], stdin: str) -> tuple[str, str]:
    if not files:
        return stdin, ""
    out, err, _ = cat(ctx, ["cat", *files], stdin)
    return out, err


def _number(args: list[str], default: int) -> tuple[int, list[str]]:
    rest, count = [], default
    i = 0
    while i < len(args):
        if args[i] == "-n" and i + 1 < len(args):
            count, i = int(args[i + 1].lstrip("+") or 0), i + 2
            continue
        if re.fullmatch(r"-n?\d+", args[i]):
            count = int(args[i].lstrip("-n"))
        else:
            rest.append(args[i])
        i += 1
    return count, rest


def _head(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    count, files = _number(argv[1:], 10)
    text, err = _input(ctx, files, stdin)
    return "".join(text.splitlines(keepends=True)[:count]), err, 1 if err else 0


def _tail(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    count, files = _number(argv[1:], 10)
    text, err = _input(ctx, files, stdin)
    lines = text.splitlines(keepends=True)
    return "".join(lines[-count:] if count else []), err, 1 if err else 0


def _grep(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    flags: set[str] = set()
    rest: list[str] = []
    for arg in argv[1:]:
        if arg.startswith("-") and len(arg) > 1 and not rest:
            flags.update(arg[1:])
        else:
            rest.append(arg)
    if not rest:
        return "", "Usage: grep [OPTION]... PATTERNS [FILE]...\nTry 'grep --help' for more information.\n", 2
    pattern, files = rest[0], rest[1:]
    text, err = _input(ctx, files, stdin)
    try:
        regex = re.compile(re.escape(pattern) if "F" in flags else pattern, re.IGNORECASE if "i" in flags else 0)
    except re.error:
        return "", "grep: Unmatched ( or \\(\n", 2
    lines = [line for line in text.splitlines(keepends=True) if bool(regex.search(line)) != ("v" in flags)]
    out = "" if "q" in flags else f"{len(lines)}\n" if "c" in flags else "".join(
        line if line.endswith("\n") else line + "\n" for line in lines)
    return out, err, 2 if err else 0 if lines else 1


def _wc(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    flags = {f for a in argv[1:] if a.startswith("-") for f in a[1:]}
    text, err = _input(ctx, [a for a in argv[1:] if not a.startswith("-")], stdin)
    counts = {"l": text.count("\n"), "w": len(text.split()), "c": len(text.encode())}
    chosen = [counts[f] for f in "lwc" if f in flags] or list(counts.values())
    if len(chosen) == 1:
        return f"{chosen[0]}\n", err, 1 if err else 0
    width = max(len(str(c)) for c in chosen) if ctx.flavour == "gnu" else 7
    return " ".join(f"{c:>{width}}" for c in chosen) + "\n", err, 1 if err else 0


def _sort(ctx: Context, argv: list[str], stdin: str) -> tuple[str, str, int]:
    flags = {f for a in argv[1:] if a.startswith("-") for f in a[1:]}
    text, err = _input(ctx, [a for a in argv[1:] if not a.startswith("-")], stdin)
    lines = sorted({line for line in text.splitlines()} if "u" in flags else text.splitlines(), reverse="r" in flags)
    return "".join(line + "\n" for line in lines), err, 1 if err else 0


FILTERS: dict[str, Tool] = {"head": _head, "tail": _tail, "grep": _grep, "wc": _wc, "sort": _sort}
