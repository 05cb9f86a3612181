"""kubectl's command line read as kubectl reads it: cobra finds the command, pflag parses its flags.

An allowlist is only as good as the parser in front of it. When the two disagree about a command line, the agent's
text means one thing to opsgym and another to kubectl: ``-Ao jsonpath-file=/etc/shadow`` looked like ``-A`` with a
stray value to a hand-written parser, while pflag reads ``-A`` (a bool, so the bundle goes on) then ``-o`` (which takes
the next argument). So this module implements the two libraries' rules, not an approximation of kubectl's usage:

* **cobra** (``Command.Find``): the command word is the first argument that is not a flag or a flag's value, where
  ``--flag`` / ``-f`` (exactly two characters, no ``=``) consume the next argument unless the flag takes none; the word
  is then removed from the arguments (the first occurrence that is not a flag value) and the search goes on in the
  subcommand (``rollout status``, ``top pod``).
* **pflag** (``parseArgs``): ``--name=v``; ``--name v`` unless the flag takes no argument (bools, and value flags with a
  default for the bare form such as ``--dry-run``); ``-abc`` looks up each character in turn, a no-argument shorthand
  takes only its character, any other takes the rest of the bundle as its value (``-nshop``, ``-n=shop``) or else the
  next argument (whatever it looks like, ``-n -s`` sets the namespace to ``-s``); ``--`` ends the flags; a flag the
  command does not define is an error. ``_`` in a long name reads as ``-`` (kubectl's normalisation).

The facts per command come from kubectl itself (:mod:`opsgym.cluster.flagtable`, ``kubectl_flags.json``). Anything
the table does not know is refused: an unknown flag is an error in kubectl too, and refusing costs nothing.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field

from opsgym.cluster.flagtable import TABLE_PATH

__all__ = ["Command", "Flag", "FlagUse", "Rejected", "go_bool", "parse_args", "parse_args_at", "resolve", "table"]


class Rejected(Exception):
    """The action is not a kubectl command this front-end runs; the message says what to send instead."""


@dataclass(frozen=True)
class Flag:
    """One flag of a command: ``kind`` is ``bool``, ``optional`` (value flag with a bare form) or ``value``."""

    name: str
    short: str
    kind: str

    @property
    def takes_argument(self) -> bool:
        """Whether ``--name`` / ``-x`` without ``=`` consumes the next argument (pflag: no NoOptDefVal)."""
        return self.kind == "value"


@dataclass(frozen=True)
class FlagUse:
    """A flag as parsed: ``value`` is None for a bare no-argument flag (``--force``, ``--dry-run``)."""

    flag: Flag
    value: str | None
    spelling: str
    """How the agent wrote the flag's name (``-s``, ``--server``, ``--all_namespaces``), for messages."""


@dataclass(frozen=True)
class Command:
    """A command path (``get``, ``rollout status``) with its flags (local, global and ``-h``)."""

    path: str
    aliases: tuple[str, ...] = ()
    subcommands: tuple[str, ...] = ()
    flags: dict[str, Flag] = field(default_factory=dict, hash=False)

    @functools.cached_property
    def shorthands(self) -> dict[str, Flag]:
        return {f.short: f for f in self.flags.values() if f.short}

    def lookup(self, name: str) -> Flag | None:
        return self.flags.get(name.replace("_", "-"))


class _Table:
    def __init__(self, data: dict) -> None:
        self.version = str(data.get("kubectl", ""))
        global_flags = {name: Flag(name, short, kind) for name, (short, kind) in data["global"].items()}
        self.commands: dict[str, Command] = {"": Command("", (), tuple(c for c in data["commands"] if " " not in c),
                                                         {k: v for k, v in global_flags.items() if k != "help"})}
        for path, spec in data["commands"].items():
            flags = dict(global_flags)
            flags.update({name: Flag(name, short, kind) for name, (short, kind) in spec["flags"].items()})
            self.commands[path] = Command(path, tuple(spec["aliases"]), tuple(spec["subcommands"]), flags)

    def child(self, parent: Command, word: str) -> Command | None:
        """The subcommand ``word`` names (by name or alias) among those the table describes."""
        for path in (f"{parent.path} {name}".strip() for name in parent.subcommands):
            command = self.commands.get(path)
            if command is not None and (path.rsplit(" ", 1)[-1] == word or word in command.aliases):
                return command
        return None


@functools.cache
def table() -> _Table:
    """The flag table shipped with opsgym (read once per process)."""
    return _Table(json.loads(TABLE_PATH.read_text(encoding="utf-8")))


def _consumes_next(arg: str, command: Command) -> bool:
    """cobra's test while looking for the command word: does ``arg`` take the argument after it?"""
    if arg.startswith("--") and "=" not in arg:
        flag = command.lookup(arg[2:])
        return flag is None or flag.takes_argument
    if arg.startswith("-") and "=" not in arg and len(arg) == 2:
        flag = command.shorthands.get(arg[1:])
        return flag is None or flag.takes_argument
    return False


def _words(args: list[str], command: Command) -> list[tuple[int, str]]:
    """cobra's ``stripFlags``: the non-flag arguments with their positions (stops at ``--``)."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            break
        if _consumes_next(arg, command):
            i += 2
            continue
        if arg and not arg.startswith("-"):
            out.append((i, arg))
        i += 1
    return out


def resolve(args: list[str]) -> tuple[Command, list[str], list[str]]:
    """cobra's ``Find``: the command kubectl will run, the words that named it, and the arguments it will parse.

    When the next word names no subcommand the table describes, the search stops there and that word is returned
    as the last of ``words`` while ``command`` stays the parent (the root, path ``""``, or a group such as
    ``rollout``): the caller refuses it and names the word.
    """
    command, rest = table().commands[""], list(args)
    words: list[str] = []
    while command.subcommands:
        found = _words(rest, command)
        if not found:
            break
        position, word = found[0]
        child = table().child(command, word)
        if child is None:
            return command, [*words, word], rest
        command, words, rest = child, [*words, word], rest[:position] + rest[position + 1:]
    return command, words, rest


def go_bool(text: str) -> bool | None:
    """Go's ``strconv.ParseBool``: what kubectl makes of ``--force=T`` (None where it reports an error)."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    return None


def _unknown(spelling: str, command: Command) -> Rejected:
    return Rejected(f"unknown or unsupported flag {spelling} for kubectl {command.path}: kubectl {command.path} "
                    "--help lists its flags")


def _long(arg: str, rest: list[str], command: Command, uses: list[FlagUse]) -> list[str]:
    body = arg[2:]
    if not body or body[0] in "-=":
        raise Rejected(f"bad flag syntax: {arg}")
    name, eq, value = body.partition("=")
    flag = command.lookup(name)
    if flag is None:
        raise _unknown(f"--{name}", command)
    if eq or not flag.takes_argument:
        uses.append(FlagUse(flag, value if eq else None, f"--{name}"))
        return rest
    return _value(flag, f"--{name}", "", rest, uses)


def _value(flag: Flag, spelling: str, attached: str, rest: list[str], uses: list[FlagUse]) -> list[str]:
    """A value flag written without ``=``: its value is the attached text (``-nshop``), else the next argument."""
    if attached:
        uses.append(FlagUse(flag, attached, spelling))
        return rest
    if not rest:
        raise Rejected(f"{spelling} needs a value")
    uses.append(FlagUse(flag, rest[0], spelling))
    return rest[1:]


def _short(arg: str, rest: list[str], command: Command, uses: list[FlagUse]) -> list[str]:
    bundle = arg[1:]
    while bundle:
        char = bundle[0]
        flag = command.shorthands.get(char)
        if flag is None:
            raise _unknown(f"-{char}" + (f" (in {arg})" if len(arg) > 2 else ""), command)
        if len(bundle) > 2 and bundle[1] == "=":
            uses.append(FlagUse(flag, bundle[2:], f"-{char}"))
            return rest
        if flag.takes_argument:
            return _value(flag, f"-{char}", bundle[1:], rest, uses)
        uses.append(FlagUse(flag, None, f"-{char}"))  # a no-argument shorthand: the bundle goes on
        bundle = bundle[1:]
    return rest


def parse_args(command: Command, args: list[str]) -> tuple[list[str], list[FlagUse]]:
    """pflag's ``parseArgs`` for ``command``: its positional arguments and every flag use, in order.

    Raises:
        Rejected: an unknown flag, a missing value or bad syntax (kubectl would refuse the command too).
    """
    positionals, uses, _ = parse_args_at(command, args)
    return positionals, uses


def parse_args_at(command: Command, args: list[str]) -> tuple[list[str], list[FlagUse], int | None]:
    """:func:`parse_args`, plus the index in ``args`` of the ``--`` that ended the flags (None if none did): flags
    inserted before it are read as flags, after it as arguments of ``exec``'s command."""
    positionals: list[str] = []
    uses: list[FlagUse] = []
    rest = list(args)
    while rest:
        arg, rest = rest[0], rest[1:]
        if len(arg) < 2 or arg[0] != "-":
            positionals.append(arg)
        elif arg == "--":
            positionals.extend(rest)
            return positionals, uses, len(args) - len(rest) - 1
        elif arg[1] == "-":
            rest = _long(arg, rest, command, uses)
        else:
            rest = _short(arg, rest, command, uses)
    return positionals, uses, None
