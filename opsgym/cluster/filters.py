"""The filters an action may pipe kubectl's output through, implemented here: no shell, no file, no other program.

Agents built like HolmesGPT or kubectl-ai pipe nearly every command (``kubectl get pods -A | grep -v Running |
head``). An action's pipe stages (:mod:`opsgym.cluster.cmdline`) are read here with GNU's option rules
(:func:`getopt.gnu_getopt`: bundles, attached values, options after operands) and run in order on kubectl's standard
output, as a shell pipeline would: the exit status is the last stage's (``grep`` with no match gives 1). The filters
read only what flows down the pipe: an operand that would name a file is refused, and so is every command that is not
a filter here (``awk``, ``sed``, ``xargs``, ``sh`` …), with the list of those that are. Input and output are bounded
(:data:`MAX_INPUT`, :data:`MAX_OUTPUT`); ``grep``'s regular expressions run with a time budget
(:mod:`opsgym.cluster.filter_grep`) and ``jq`` in a child process with a time and memory limit
(:mod:`opsgym.cluster.filter_jq`). Output is that of GNU coreutils in the C locale (byte order).
"""

from __future__ import annotations

import base64
import binascii
import functools
import getopt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from opsgym.cluster.pflag import Rejected

__all__ = ["FILTERS", "MAX_INPUT", "MAX_OUTPUT", "Filter", "Result", "decodes_base64", "gnu_options", "lines_of",
           "prepare", "run_pipeline"]

MAX_INPUT = 8 * 1024 * 1024
"""Characters of kubectl output a pipe takes in; the rest is cut (with a note)."""
MAX_OUTPUT = 1024 * 1024
"""Characters a filter may put out; the rest is cut (with a note)."""
FILTERS = ("grep", "head", "tail", "wc", "sort", "uniq", "cut", "jq", "base64", "column", "cat")
REFUSED_WHY = (f"pipes go only to these filters, which run without a shell: {', '.join(FILTERS)} (columns: cut, "
               "sort -k or jq; no awk, sed, xargs or shells)")


@dataclass
class Result:
    """What a filter stage wrote and its exit status."""

    out: str
    err: str = ""
    status: int = 0


@dataclass
class Filter:
    """A checked pipe stage: its words as written, and the function that runs it on its input."""

    name: str
    args: list[str]
    apply: Callable[[str], Result] = field(repr=False)

    def describe(self) -> dict[str, object]:
        """The stage for the action record."""
        return {"filter": self.name, "args": list(self.args)}


def gnu_options(name: str, args: list[str], short: str, long: dict[str, str]) -> tuple[dict[str, list[str]],
                                                                                     list[str]]:
    """``{option: [values]}`` and the operands, read as GNU getopt reads them; operands naming files are refused.

    ``short`` is getopt's letters (``"n:c:q"``); ``long`` maps getopt's long names (``"lines="``) to the letter they
    stand for (``"n"``), or to ``""`` for a long-only option, which is then keyed by its name.
    """
    try:
        pairs, operands = getopt.gnu_getopt(args, short, list(long))
    except getopt.GetoptError as exc:
        known = [f"-{c}" for c in short if c != ":"] + [f"--{n.rstrip('=')}" for n, c in long.items() if not c]
        raise Rejected(f"{name}: {exc.msg} (`{name}` here takes {' '.join(known) or 'no options'})") from None
    letters = {n.rstrip("="): c for n, c in long.items()}
    options: dict[str, list[str]] = {}
    for option, value in pairs:
        key = option.lstrip("-")
        options.setdefault(letters.get(key) or key, []).append(value)
    files = [o for o in operands if o != "-"]
    if files and name not in ("grep", "jq"):  # their first operand is a pattern or a program
        raise Rejected(f"{name} {files[0]!r}: filters read only the output piped into them, never files")
    return options, operands


def lines_of(text: str) -> list[str]:
    """Lines without their newline; a last line without one still counts (as GNU tools read it)."""
    parts = text.split("\n")
    return parts[:-1] if parts[-1] == "" else parts


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _count(name: str, text: str) -> int:
    match = re.fullmatch(r"[+-]?\d+", text.strip())
    if match is None:
        raise Rejected(f"{name}: invalid number {text!r}")
    return int(text)


def _numeric_shorthand(args: list[str]) -> list[str]:
    """``head -5`` / ``tail -20``: the obsolete spelling of ``-n 5``."""
    return [f"-n{a[1:]}" if re.fullmatch(r"-\d+", a) and (i == 0 or args[i - 1] not in ("-n", "-c", "--lines",
                                                                                           "--bytes")) else a
            for i, a in enumerate(args)]


def _chunks(text: str) -> list[str]:
    """Lines with their newlines (only ``\\n`` ends a line, as in GNU tools; ``str.splitlines`` splits on more)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _head(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("head", _numeric_shorthand(args), "n:c:q", {"lines=": "n", "bytes=": "c", "quiet": "q"})
    if "c" in options:  # -c N: the first N bytes; -c -N: all but the last N
        size = _count("head", options["c"][-1].lstrip("+"))
        return lambda text: Result(text.encode()[:size].decode("utf-8", "replace"))
    count = _count("head", options.get("n", ["10"])[-1].lstrip("+"))  # -n -N: all but the last N lines
    return lambda text: Result("".join(_chunks(text)[:count]))


def _tail(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("tail", _numeric_shorthand(args), "n:c:q", {"lines=": "n", "bytes=": "c", "quiet": "q"})
    if "c" in options:
        size = abs(_count("tail", options["c"][-1]))
        return lambda text: Result(text.encode()[-size:].decode("utf-8", "replace") if size else "")
    spec = options.get("n", ["10"])[-1]
    count = abs(_count("tail", spec))
    if spec.startswith("+"):  # tail -n +N: from line N on
        return lambda text: Result("".join(_chunks(text)[max(count - 1, 0):]))
    return lambda text: Result("".join(_chunks(text)[-count:]) if count else "")


def _wc(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("wc", args, "lwcm", {"lines": "l", "words": "w", "bytes": "c", "chars": "m"})
    wanted = [c for c in "lwmc" if c in options] or ["l", "w", "c"]

    def run(text: str) -> Result:
        counts = {"l": text.count("\n"), "w": len(text.split()), "m": len(text), "c": len(text.encode())}
        values = [counts[c] for c in wanted]
        return Result((str(values[0]) if len(values) == 1 else " ".join(f"{v:7d}" for v in values)) + "\n")
    return run


@dataclass(frozen=True)
class _Key:
    """A ``sort -k`` key: fields and characters (1-based; end char 0 = end of field) and its own ordering flags."""

    start_field: int
    start_char: int
    end_field: int
    end_char: int
    flags: str


def _sort_key(spec: str) -> _Key:
    match = re.fullmatch(r"(\d+)(?:\.(\d+))?([bdfhnrMV]*)(?:,(\d+)(?:\.(\d+))?([bdfhnrMV]*))?", spec)
    if match is None or int(match[1]) == 0:
        raise Rejected(f"sort: invalid key {spec!r} (write -k FIELD[.CHAR][n|r|h|f|b][,FIELD[.CHAR]])")
    end_field = int(match[4]) if match[4] else 0
    return _Key(int(match[1]), int(match[2] or 1), end_field, int(match[5] or 0), (match[3] or "") + (match[6] or ""))


def _field_starts(line: str, separator: str | None) -> list[int]:
    if separator is not None:
        return [0] + [i + 1 for i, c in enumerate(line) if c == separator]
    return [0] + [i for i in range(1, len(line)) if line[i] in " \t" and line[i - 1] not in " \t"]


def _extract(line: str, key: _Key, separator: str | None, blanks: bool) -> str:
    starts = _field_starts(line, separator)
    if key.start_field > len(starts):
        return ""

    def field_end(index: int) -> int:
        if index < len(starts):
            return starts[index] - (1 if separator is not None else 0)
        return len(line)

    begin = starts[key.start_field - 1]
    if blanks:
        while begin < len(line) and line[begin] in " \t":
            begin += 1
    begin = min(begin + key.start_char - 1, len(line))
    if not key.end_field:
        return line[begin:]
    if key.end_field > len(starts):
        end = len(line)
    elif key.end_char:
        end = starts[key.end_field - 1] + key.end_char
    else:
        end = field_end(key.end_field)
    return line[begin:max(begin, end)]


_NUMBER = re.compile(r"\s*(-?)(\d*(?:\.\d*)?)([KMGTPEZYRQk]?)")
_SUFFIXES = "KMGTPEZYRQ"


def _numeric(text: str, human: bool) -> tuple[float, float]:
    """``sort -n`` / ``-h``: (suffix rank, value); a key without digits is 0, and ``-h`` orders by suffix first."""
    match = _NUMBER.match(text)
    digits = match[2] if match else ""
    value = float(digits) if digits.strip(".") else 0.0
    sign = -1.0 if match and match[1] and value else 1.0
    rank = _SUFFIXES.find(match[3].upper()) + 1 if human and match and match[3] and value else 0
    return sign * rank, sign * value


def _sort(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("sort", args, "nrk:t:uhfbs", {
        "numeric-sort": "n", "reverse": "r", "key=": "k", "field-separator=": "t", "unique": "u",
        "human-numeric-sort": "h", "ignore-case": "f", "ignore-leading-blanks": "b", "stable": "s"})
    separator = options["t"][-1] if "t" in options else None
    if separator is not None and len(separator) != 1:
        raise Rejected("sort: the separator (-t) must be a single character")
    keys = [_sort_key(k) for k in options.get("k", [])]
    global_flags = "".join(c for c in "nrhfb" if c in options)
    unique, stable = "u" in options, "s" in options or "u" in options

    def key_value(text: str, flags: str) -> tuple[Any, ...]:
        if "n" in flags or "h" in flags:
            return _numeric(text, "h" in flags)
        return (text.upper() if "f" in flags else text,)

    def compare(a: str, b: str) -> int:
        chosen: list[_Key | None] = list(keys) or [None]
        for key in chosen:
            flags = key.flags if key and key.flags else global_flags  # a key's own flags replace the global ones
            blanks = "b" in flags
            ka = _extract(a, key, separator, blanks) if key else a
            kb = _extract(b, key, separator, blanks) if key else b
            va, vb = key_value(ka, flags), key_value(kb, flags)
            if va != vb:
                order = -1 if va < vb else 1
                return -order if "r" in flags else order
        if stable:
            return 0
        order = (a > b) - (a < b)
        return -order if "r" in options else order

    def run(text: str) -> Result:
        lines = sorted(lines_of(text), key=functools.cmp_to_key(compare))
        if unique:
            lines = [next(group) for _, group in groupby(lines, key=functools.cmp_to_key(compare))]
        return Result(_joined(lines))
    return run


def _uniq(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("uniq", args, "cdui", {"count": "c", "repeated": "d", "unique": "u", "ignore-case": "i"})

    def run(text: str) -> Result:
        out = []
        for _, group in groupby(lines_of(text), key=lambda line: line.lower() if "i" in options else line):
            lines = list(group)
            if ("d" in options and len(lines) < 2) or ("u" in options and len(lines) > 1):
                continue
            out.append(f"{len(lines):7d} {lines[0]}" if "c" in options else lines[0])
        return Result(_joined(out))
    return run


def _ranges(spec: str) -> list[tuple[int, int]]:
    ranges = []
    for part in spec.split(","):
        match = re.fullmatch(r"(\d*)(-?)(\d*)", part)
        if match is None or not (match[1] or match[3]) or (not match[2] and not match[1]):
            raise Rejected(f"cut: invalid list {spec!r} (write N, N-M, N- or -M, separated by commas)")
        low = int(match[1] or 1)
        high = int(match[3]) if match[3] else (low if not match[2] else 1 << 30)
        if low == 0 or high < low:
            raise Rejected(f"cut: invalid range {part!r}: fields and characters are numbered from 1")
        ranges.append((low, high))
    return ranges


def _cut(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("cut", args, "d:f:c:b:s", {
        "delimiter=": "d", "fields=": "f", "characters=": "c", "bytes=": "b", "only-delimited": "s",
        "output-delimiter=": ""})
    modes = [m for m in "fcb" if m in options]
    if len(modes) != 1:
        raise Rejected("cut: give exactly one of -f LIST, -c LIST or -b LIST")
    ranges = _ranges(options[modes[0]][-1])
    delimiter = options.get("d", ["\t"])[-1]
    if len(delimiter) != 1:
        raise Rejected("cut: the delimiter must be a single character")
    joiner = options.get("output-delimiter", [delimiter if modes[0] == "f" else ""])[-1]

    def pick(items: list[str]) -> list[str]:
        return [item for i, item in enumerate(items, 1) if any(lo <= i <= hi for lo, hi in ranges)]

    def run(text: str) -> Result:
        out = []
        for line in lines_of(text):
            if modes[0] != "f":
                out.append(joiner.join(pick(list(line))))
            elif delimiter in line:
                out.append(joiner.join(pick(line.split(delimiter))))
            elif "s" not in options:
                out.append(line)
        return Result(_joined(out))
    return run


def _base64_options(args: list[str]) -> dict[str, list[str]]:
    return gnu_options("base64", args, "diw:", {"decode": "d", "ignore-garbage": "i", "wrap=": "w"})[0]


def decodes_base64(stage: Filter) -> bool:
    """Whether a stage decodes base64 (how Secret values are read: the scoring's CISO view notes it)."""
    return stage.name == "base64" and "d" in _base64_options(stage.args)


def _base64(args: list[str]) -> Callable[[str], Result]:
    options = _base64_options(args)
    wrap = _count("base64", options.get("w", ["76"])[-1])

    def decode(text: str) -> Result:
        keep = re.sub(r"[^A-Za-z0-9+/=]", "", text) if "i" in options else re.sub(r"\s", "", text)
        try:
            return Result(base64.b64decode(keep, validate=True).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            return Result("", "base64: invalid input\n", 1)

    def encode(text: str) -> Result:
        data = base64.b64encode(text.encode()).decode()
        lines = [data[i:i + wrap] for i in range(0, len(data), wrap)] if wrap else [data]
        return Result(_joined([line for line in lines if line]))
    return decode if "d" in options else encode


def _column(args: list[str]) -> Callable[[str], Result]:
    options, _ = gnu_options("column", args, "ts:o:", {"table": "t", "separator=": "s", "output-separator=": "o"})
    if "t" not in options:
        raise Rejected("column: only `column -t` (align into a table) is supported here")
    splitter = options.get("s", [None])[-1]
    gap = options.get("o", ["  "])[-1]

    def run(text: str) -> Result:
        rows = [(re.split(f"[{re.escape(splitter)}]+", line) if splitter else line.split())
                for line in lines_of(text) if line.strip()]
        count = max((len(row) for row in rows), default=0)  # util-linux fills short rows with empty cells
        rows = [row + [""] * (count - len(row)) for row in rows]
        widths = [max(len(row[i]) for row in rows) for i in range(count - 1)]
        return Result(_joined([gap.join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]])
                               for row in rows]))
    return run


def _cat(args: list[str]) -> Callable[[str], Result]:
    gnu_options("cat", args, "", {})
    return Result


def prepare(words: list[str]) -> Filter:
    """Check one pipe stage (``["grep", "-i", "error"]``) and make it runnable; raises :class:`Rejected`."""
    from opsgym.cluster.filter_grep import grep
    from opsgym.cluster.filter_jq import jq

    builders: dict[str, Callable[[list[str]], Callable[[str], Result]]] = {
        "grep": grep, "head": _head, "tail": _tail, "wc": _wc, "sort": _sort, "uniq": _uniq, "cut": _cut, "jq": jq,
        "base64": _base64, "column": _column, "cat": _cat}
    name, args = words[0], words[1:]
    if name not in builders:
        raise Rejected(f"{name[:40]!r} is not available: {REFUSED_WHY}")
    return Filter(name, args, builders[name](args))


def run_pipeline(filters: list[Filter], text: str) -> tuple[str, str, int]:
    """Run ``text`` through ``filters`` in order: the last output, every stage's errors, the last exit status."""
    errors: list[str] = []
    if len(text) > MAX_INPUT:
        text = text[:MAX_INPUT]
        errors.append(f"(the pipe took only the first {MAX_INPUT} characters of kubectl's output)\n")
    status = 0
    for stage in filters:
        result = stage.apply(text)
        text, status = result.out, result.status
        errors.append(result.err)
        if len(text) > MAX_OUTPUT:
            text = text[:MAX_OUTPUT]
            errors.append(f"({stage.name}'s output was cut at {MAX_OUTPUT} characters)\n")
    return text, "".join(errors), status
