"""kubectl's own flag definitions, read from the installed binary into ``kubectl_flags.json``.

The agent's kubectl front-end must split an action exactly as kubectl will (pflag's grammar: ``-Ao X`` is ``-A -o X``
because ``-A`` is a bool and ``-o`` is not). That depends on facts only kubectl knows: each command's flags, their
shorthands, and whether a flag consumes the next argument. kubectl prints the first two in ``--help`` (``-A,
--all-namespaces=false:``) and ``kubectl options``; the third is asked of kubectl itself: ``kubectl CMD --help --FLAG``
succeeds when ``--FLAG`` needs no argument (a bool, or a value flag with a default for the bare form, such as
``--dry-run``) and fails with "flag needs an argument" otherwise. The table is data, shipped with the package;
``tests/cluster/test_flagtable.py`` regenerates it from the installed kubectl and compares.

Regenerate after a kubectl upgrade: ``python -m opsgym.cluster.flagtable --write``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["TABLE_COMMANDS", "TABLE_PATH", "dumps", "generate"]

TABLE_PATH = Path(__file__).with_name("kubectl_flags.json")
TABLE_COMMANDS = ("get", "describe", "logs", "top", "top pod", "top node", "events", "api-resources", "api-versions",
                  "version", "cluster-info", "scale", "patch", "label", "annotate", "delete", "rollout",
                  "rollout restart", "rollout undo", "rollout pause", "rollout resume", "rollout status",
                  "rollout history", "set", "set env", "set image", "set resources",
                  "create", "create clusterrole", "create clusterrolebinding", "create configmap", "create cronjob",
                  "create deployment", "create ingress", "create job", "create namespace",
                  "create poddisruptionbudget", "create priorityclass", "create quota", "create role",
                  "create rolebinding", "create secret", "create secret docker-registry", "create secret generic",
                  "create secret tls", "create service", "create service clusterip", "create service externalname",
                  "create service loadbalancer", "create service nodeport", "create serviceaccount", "create token",
                  "apply", "autoscale", "edit", "replace", "run", "expose", "cordon", "uncordon", "drain", "taint",
                  "wait", "auth", "auth can-i", "auth whoami", "explain", "exec")
"""The command paths the table describes: every command the agent may run, the groups above them (``rollout``,
``set``, ``top``) whose flags decide where kubectl finds the subcommand word, and the changing commands the agent may
not run but an env's record may hold (``edit``, ``create token``), which the scoring reads with the same grammar."""

_FLAG_LINE = re.compile(r"^\s{2,}(?:-(?P<short>\S), )?--(?P<name>[A-Za-z0-9][\w.-]*)=(?P<default>.*):\s*$")
_SECTION = re.compile(r"^(\S[^:]*):\s*$")


def _help(binary: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, env=env,
                          stdin=subprocess.DEVNULL)


def _sections(text: str) -> dict[str, list[str]]:
    """Help text split at its unindented ``Title:`` lines."""
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        match = _SECTION.match(line)
        if match:
            current = match.group(1)
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def _flags(lines: list[str]) -> dict[str, dict[str, Any]]:
    """``{name: {"short": "A", "bool": True}}`` from an Options section (bool: its default prints as true/false)."""
    flags: dict[str, dict[str, Any]] = {}
    for line in lines:
        match = _FLAG_LINE.match(line)
        if match:
            flags[match["name"]] = {"short": match["short"] or "", "bool": match["default"] in ("true", "false")}
    return flags


def _takes_no_argument(binary: str, path: list[str], name: str, env: dict[str, str]) -> bool:
    """Whether kubectl accepts ``--name`` with nothing after it (pflag's NoOptDefVal: bools and optional values)."""
    done = _help(binary, [*path, "--help", f"--{name}"], env)
    if done.returncode == 0:
        return True
    if "flag needs an argument" in done.stderr:
        return False
    raise RuntimeError(f"kubectl {' '.join(path)} --help --{name}: unexpected answer {done.stderr.strip()[:200]!r}")


def _kind(looks_bool: bool, no_argument: bool) -> str:
    """``value`` (consumes the next argument), ``bool``, or ``optional`` (a value flag with a bare form)."""
    if not no_argument:
        return "value"
    return "bool" if looks_bool else "optional"


def generate(binary: str) -> dict[str, Any]:
    """The flag table of ``binary`` for :data:`TABLE_COMMANDS` (runs only ``--help``; contacts no cluster)."""
    with tempfile.TemporaryDirectory(prefix="opsgym-flagtable-") as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "KUBECONFIG": str(Path(home) / "none"),
               "LANG": "C"}
        version = _help(binary, ["version", "--client"], env).stdout.split("\n")[0].strip()
        global_flags = _flags(_sections(_help(binary, ["options"], env).stdout).get(
            "The following options can be passed to any command", []))
        if not global_flags:
            raise RuntimeError(f"{binary} options printed no flags: is it kubectl?")
        commands: dict[str, dict[str, Any]] = {}
        for path in TABLE_COMMANDS:
            sections = _sections(_help(binary, [*path.split(), "--help"], env).stdout)
            aliases = [a.strip() for a in " ".join(sections.get("Aliases", [])).split(",") if a.strip()]
            subcommands = [line.split()[0] for line in sections.get("Available Commands", []) if line.strip()]
            commands[path] = {"aliases": aliases, "subcommands": subcommands, "flags": _flags(sections.get("Options",
                                                                                                         []))}
        probes = [(["version"], name, global_flags[name]) for name in global_flags]
        probes += [(path.split(), name, entry) for path, spec in commands.items() for name, entry in
                   spec["flags"].items()]
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            answers = list(pool.map(lambda p: _takes_no_argument(binary, p[0], p[1], env), probes))
        for (_, _, entry), no_argument in zip(probes, answers, strict=True):
            entry["kind"] = _kind(entry.pop("bool"), no_argument)
    # cobra adds -h/--help (a bool) to every command without listing it under Options.
    global_flags["help"] = {"short": "h", "kind": "bool"}
    return {"kubectl": version, "global": _compact(global_flags),
            "commands": {path: {**spec, "flags": _compact(spec["flags"])} for path, spec in commands.items()}}


def _compact(flags: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """``{name: [shorthand, kind]}`` sorted by name: one short line per flag in the JSON file."""
    return {name: [flags[name]["short"], flags[name]["kind"]] for name in sorted(flags)}


def dumps(table: dict[str, Any]) -> str:
    """The table as JSON with one line per flag and per command field (small diffs after an upgrade)."""
    def block(flags: dict[str, list[str]], indent: str) -> str:
        return "{\n" + ",\n".join(f"{indent} {json.dumps(k)}: {json.dumps(v)}" for k, v in flags.items()) + \
            f"\n{indent}}}"

    commands = ",\n".join(
        f'  {json.dumps(path)}: {{"aliases": {json.dumps(spec["aliases"])}, "subcommands": '
        f'{json.dumps(spec["subcommands"])},\n   "flags": {block(spec["flags"], "   ")}}}'
        for path, spec in table["commands"].items())
    return (f'{{"kubectl": {json.dumps(table["kubectl"])},\n "global": {block(table["global"], " ")},\n'
            f' "commands": {{\n{commands}\n }}\n}}\n')


def main(argv: list[str] | None = None) -> int:
    from opsgym.cluster.kubectl import find_kubectl

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="kubectl", help="the kubectl to read (default: the one on PATH)")
    parser.add_argument("--write", action="store_true", help=f"write {TABLE_PATH.name} instead of printing it")
    args = parser.parse_args(argv)
    binary = find_kubectl(args.binary)
    if binary is None:
        parser.error(f"{args.binary} not found")
    text = dumps(generate(binary))
    if args.write:
        TABLE_PATH.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
