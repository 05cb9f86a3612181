"""``grep`` for the action pipes (:mod:`opsgym.cluster.filters`): GNU grep's options, patterns and output.

Patterns are GNU's: basic (the default: ``\\|``, ``\\(``, ``\\+`` are the operators, ``|`` and ``+`` plain
characters), extended (``-E``), fixed strings (``-F``) or Perl-like (``-P``), each translated to the ``regex``
module's syntax, which reads POSIX classes (``[[:digit:]]``) as grep does and, unlike :mod:`re`, takes a time budget:
a pattern that backtracks without end (``(a+)+$``) stops at :data:`BUDGET_S` with grep's error status 2 instead of
holding the episode. Output follows GNU grep: ``N:`` / ``N-`` line prefixes with ``-n``, ``--`` between context
groups, trailing context after the ``-m``-th match; exit status 0 when a line was selected, 1 when none, 2 on error.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import regex  # type: ignore[import-untyped]  # stubs: types-regex, not a dependency

from opsgym.cluster.filters import Result, gnu_options, lines_of
from opsgym.cluster.pflag import Rejected

__all__ = ["BUDGET_S", "grep", "translate"]

BUDGET_S = 2.0
"""Wall seconds one grep stage may spend matching."""
LONG = {"ignore-case": "i", "invert-match": "v", "extended-regexp": "E", "fixed-strings": "F", "basic-regexp": "G",
        "perl-regexp": "P", "count": "c", "line-number": "n", "word-regexp": "w", "line-regexp": "x",
        "only-matching": "o", "quiet": "q", "silent": "q", "no-filename": "h", "no-messages": "s",
        "after-context=": "A", "before-context=": "B", "context=": "C", "max-count=": "m", "regexp=": "e"}


def _bracket_end(pattern: str, start: int) -> int:
    """Index after the ``]`` closing the bracket expression at ``start`` (POSIX: ``]`` first is a member)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "[" and pattern[i + 1:i + 2] in (":", ".", "="):
            close = pattern.find(pattern[i + 1] + "]", i + 2)
            i = close + 2 if close >= 0 else len(pattern)
            continue
        if pattern[i] == "]":
            return i + 1
        i += 1
    raise Rejected("grep: Unmatched [, [^, [:, [., or [=")


def translate(pattern: str, extended: bool) -> str:
    """A GNU basic (or, with ``extended``, extended) regular expression in the ``regex`` module's syntax."""
    out: list[str] = []
    specials = "(){}|+?"
    i = 0
    while i < len(pattern):
        char = pattern[i]
        at_start = not out or out[-1] in ("(", "|") or out == ["^"]
        if char == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "<>":
                out.append(r"\b")
            elif nxt in specials:
                out.append("\\" + nxt if extended else nxt)
            else:
                out.append("\\" + nxt)
            i += 2
            continue
        if char == "[":
            end = _bracket_end(pattern, i)
            out.append(pattern[i:end].replace("\\", "\\\\"))  # a backslash is a plain member in POSIX brackets
            i = end
            continue
        if char in specials and not extended:
            out.append("\\" + char)
        elif char == "*" and at_start:
            out.append(r"\*")
        elif char == "^" and not extended and not at_start:
            out.append(r"\^")
        elif char == "$" and not extended and not (i + 1 == len(pattern) or pattern[i + 1:i + 3] in ("\\)", "\\|")):
            out.append(r"\$")
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _compile(patterns: list[str], options: dict[str, list[str]]) -> regex.Pattern[str]:
    mode = next((m for m in "FPE" if m in options), "G")
    parts = [regex.escape(p) if mode == "F" else p if mode == "P" else translate(p, mode == "E") for p in patterns]
    if "w" in options:
        parts = [rf"(?<!\w)(?:{p})(?!\w)" for p in parts]
    if "x" in options:
        parts = [rf"^(?:{p})$" for p in parts]
    try:
        return regex.compile("|".join(f"(?:{p})" for p in parts), regex.IGNORECASE if "i" in options else 0)
    except regex.error as exc:
        raise Rejected(f"grep: invalid pattern {patterns!r}: {exc}") from None


def _number(options: dict[str, list[str]], letter: str, default: int) -> int:
    text = options.get(letter, [str(default)])[-1]
    if not text.isdigit():
        raise Rejected(f"grep: invalid number {text!r} for -{letter}")
    return int(text)


def grep(args: list[str]) -> Callable[[str], Result]:
    """Check grep's arguments (pattern compiled now, so a bad one is refused before kubectl runs)."""
    args = [f"-C{a[1:]}" if a[1:].isdigit() and a.startswith("-") else a for a in args]  # -3 is -C 3
    options, operands = gnu_options("grep", args, "ivEFGPcnwxoqhsA:B:C:m:e:", LONG)
    patterns = [p for value in options.get("e", []) for p in value.split("\n")]
    if not patterns:
        if not operands:
            raise Rejected("grep needs a pattern: kubectl ... | grep PATTERN")
        patterns, operands = operands[0].split("\n"), operands[1:]
    if [o for o in operands if o != "-"]:
        raise Rejected(f"grep {operands[0]!r}: filters read only the output piped into them, never files")
    compiled = _compile(patterns, options)
    context = _number(options, "C", 0)
    after, before = _number(options, "A", context), _number(options, "B", context)
    limit = _number(options, "m", -1) if "m" in options else -1

    def run(text: str) -> Result:
        try:
            return _select(text, compiled, options, after, before, limit)
        except TimeoutError:
            return Result("", f"grep: the pattern took longer than {BUDGET_S:g} s on this input\n", 2)
    return run


def _select(text: str, compiled: regex.Pattern[str], options: dict[str, list[str]], after: int, before: int,
            limit: int) -> Result:
    deadline = time.monotonic() + BUDGET_S
    invert, number, only = "v" in options, "n" in options, "o" in options
    lines = lines_of(text)
    selected: list[int] = []
    for index, line in enumerate(lines):
        if limit >= 0 and len(selected) >= limit:
            break
        if (compiled.search(line, timeout=max(deadline - time.monotonic(), 0.001)) is None) == invert:
            selected.append(index)
    status = 0 if selected else 1
    if "q" in options:
        return Result("", "", status)
    if "c" in options:
        return Result(f"{len(selected)}\n", "", status)
    out: list[str] = []
    if only:
        for index in [] if invert else selected:
            prefix = f"{index + 1}:" if number else ""
            out += [prefix + m.group() + "\n" for m in compiled.finditer(lines[index], timeout=BUDGET_S) if m.group()]
        return Result("".join(out), "", status)
    chosen = set(selected)
    shown = sorted({i for s in selected for i in range(max(0, s - before), min(len(lines), s + after + 1))})
    previous = -2
    for index in shown:
        if (before or after) and previous >= 0 and index > previous + 1:
            out.append("--\n")
        mark = ":" if index in chosen else "-"
        out.append((f"{index + 1}{mark}" if number else "") + lines[index] + "\n")
        previous = index
    return Result("".join(out), "", status)
