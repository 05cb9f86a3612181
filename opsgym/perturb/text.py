"""Recognising and rewriting the structured parts of an observation: log lines, metric samples, JSON documents.

Perturbations must change presentation, never meaning, so they only touch what they can parse back: a log line in
one of the three formats opsgym's service programs write (``plain``, ``json``, ``logfmt``, see
:mod:`opsgym.runtime.opsgym_runtime`), a Prometheus text sample, or a whole JSON document. Anything else — kubectl
tables, free prose — passes through unchanged. Every random choice is drawn from :func:`rng_for`, seeded by the
episode seed, the perturbation and the text itself, so the same input always gives the same output whatever came
before it.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "LOG_FORMATS",
    "PLAIN_HEAD",
    "LogLine",
    "Sample",
    "map_lines",
    "parse_log_line",
    "parse_sample",
    "render_log_line",
    "render_sample",
    "rng_for",
]

LOG_FORMATS = ("plain", "json", "logfmt")
_PLAIN = re.compile(r"^(?P<ts>\d{4}-\d\d-\d\dT[0-9:.]+Z?) (?P<level>[A-Z]+) +\[(?P<service>[^\]]*)\] (?P<msg>.*)$")
_PAIR = re.compile(r'([A-Za-z_@][\w.@/-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<labels>\{[^}]*\})?\s+"
                     r"(?P<value>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|NaN|Inf))(?P<rest>(?:\s+\d+)?)$")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator seeded by the episode seed and ``parts`` (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass
class LogLine:
    """One log line as ordered fields; ``fmt`` is the format it was written in."""

    fmt: str
    fields: dict[str, Any]
    indent: str = ""


def _logfmt_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    if text == "" or any(c in text for c in ' ="\t'):
        return json.dumps(text)
    return text


def _logfmt_parse_value(raw: str) -> Any:
    if raw.startswith('"'):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw


def _parse_pairs(text: str) -> dict[str, Any] | None:
    """``a=1 b="x y"`` → ordered fields, or None unless the whole text is pairs."""
    pos, out = 0, {}
    for match in _PAIR.finditer(text):
        if text[pos:match.start()].strip():
            return None
        out[match.group(1)] = _logfmt_parse_value(match.group(2))
        pos = match.end()
    return out if not text[pos:].strip() else None


def parse_log_line(line: str) -> LogLine | None:
    """Parse a log line in any of :data:`LOG_FORMATS`, or return None if it is not one."""
    indent = line[: len(line) - len(line.lstrip())]
    body = line.strip()
    if body.startswith("{") and body.endswith("}"):
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            return None
        return LogLine("json", data, indent) if isinstance(data, dict) and data else None
    plain = _PLAIN.match(body)
    if plain:
        fields: dict[str, Any] = {"ts": plain["ts"], "level": plain["level"].lower(), "service": plain["service"]}
        msg = plain["msg"]
        starts = [m.start() for m in _PAIR.finditer(msg) if m.start() > 0 and msg[m.start() - 1] == " "]
        cut = next((s for s in starts if _parse_pairs(msg[s:]) is not None), len(msg) + 1)
        fields["msg"] = msg[: cut - 1]
        fields.update(_parse_pairs(msg[cut:]) or {})
        return LogLine("plain", fields, indent)
    pairs = _parse_pairs(body) if "=" in body else None
    if pairs and len(pairs) >= 2:
        return LogLine("logfmt", pairs, indent)
    return None


PLAIN_HEAD = ("ts", "level", "service", "msg")


def render_log_line(line: LogLine, fmt: str | None = None) -> str:
    """Write ``line`` in ``fmt`` (default: its own). Plain needs ts/level/service/msg; without them it stays logfmt."""
    fmt = fmt or line.fmt
    f = line.fields
    if fmt == "json":
        return line.indent + json.dumps(f)
    if fmt == "plain" and all(k in f for k in PLAIN_HEAD):
        extra = " ".join(f"{k}={_logfmt_value(v)}" for k, v in f.items() if k not in PLAIN_HEAD)
        head = f"{f['ts']} {str(f['level']).upper():<5} [{f['service']}] {f['msg']}"
        return line.indent + head + (f" {extra}" if extra else "")
    return line.indent + " ".join(f"{k}={_logfmt_value(v)}" for k, v in f.items())


@dataclass
class Sample:
    """One Prometheus text-format sample: ``name{labels} value [timestamp]``."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    value: str = "0"
    rest: str = ""


def parse_sample(line: str) -> Sample | None:
    match = _SAMPLE.match(line.strip())
    if not match:
        return None
    labels = dict(_LABEL.findall(match["labels"] or ""))
    return Sample(match["name"], labels, match["value"], match["rest"])


def render_sample(sample: Sample) -> str:
    labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
    return f"{sample.name}{{{labels}}} {sample.value}{sample.rest}" if labels else f"{sample.name} {sample.value}" \
        + sample.rest


def map_lines(text: str, log: Callable[[LogLine, int], str | None] | None = None,
              sample: Callable[[Sample, int], str | None] | None = None,
              metric_meta: Callable[[str], str] | None = None) -> str:
    """Rewrite each recognised line; a callback returning None keeps the line. The int is the line's index."""
    out = []
    for i, line in enumerate(text.split("\n")):
        new: str | None = None
        if metric_meta is not None and line.startswith(("# HELP ", "# TYPE ")):
            new = metric_meta(line)
        elif log is not None and (parsed := parse_log_line(line)) is not None:
            new = log(parsed, i)
        elif sample is not None and (s := parse_sample(line)) is not None:
            new = sample(s, i)
        out.append(line if new is None else new)
    return "\n".join(out)
