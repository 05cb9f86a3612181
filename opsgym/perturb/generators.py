"""Perturbations of what an agent reads: log and metric fields renamed, reordered, in other units, or noisier.

Each one rewrites presentation, never facts: the fault, the end-state checks and the ground truth are untouched (a
perturbation never sees them). Choices are fixed per episode by :meth:`reset` and per text by
:func:`~opsgym.perturb.text.rng_for`, so a perturbed episode replays identically.
"""

from __future__ import annotations

import json
from typing import Any

from opsgym.perturb.text import (
    PLAIN_HEAD,
    LogLine,
    Sample,
    map_lines,
    parse_log_line,
    render_log_line,
    render_sample,
    rng_for,
)

__all__ = ["LineRewriter", "Noise", "ReorderFields", "SchemaChange", "UnitChange", "rewrite_fields"]


class LineRewriter:
    """Shared plumbing: a seeded perturbation that rewrites recognised lines and leaves the scenario alone."""

    name = "base"

    def __init__(self) -> None:
        self.seed = 0
        self.choose()

    def reset(self, seed: int) -> None:
        self.seed = int(seed)
        self.choose()

    def choose(self) -> None:
        """Fix this episode's choices from ``self.seed`` (override when there are any)."""

    def rng(self, *parts: object) -> Any:
        return rng_for(self.seed, self.name, *parts)

    def observation(self, text: str) -> str:
        return map_lines(text, log=self.log, sample=self.sample, metric_meta=self.meta)

    def log(self, line: LogLine, index: int) -> str | None:
        return None

    def sample(self, sample: Sample, index: int) -> str | None:
        return None

    def meta(self, line: str) -> str:
        return line

    def scenario(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return objects


def rewrite_fields(line: LogLine, change: Any) -> str | None:
    """Apply ``change(fields) -> fields`` to a log line; a plain line keeps its fixed head and changes only the rest."""
    if line.fmt == "plain":
        head = {k: line.fields[k] for k in PLAIN_HEAD}
        rest = {k: v for k, v in line.fields.items() if k not in PLAIN_HEAD}
        new = {**head, **change(rest)} if rest else line.fields
    else:
        new = change(line.fields)
    if list(new.items()) == list(line.fields.items()):
        return None
    return render_log_line(LogLine(line.fmt, new, line.indent))


# ---------------------------------------------------------------------------------------------- schema change
FIELD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "ts": ("timestamp", "time", "@timestamp"),
    "level": ("severity", "lvl", "log_level"),
    "service": ("svc", "component", "app"),
    "msg": ("message", "text", "event"),
    "error": ("err", "error_message", "reason"),
    "addr": ("address", "target", "endpoint"),
    "dependency": ("upstream", "dep", "peer"),
    "what": ("purpose", "for", "subject"),
    "code": ("status_code", "result_code", "rc"),
}
METRIC_WORDS: dict[str, tuple[str, ...]] = {
    "requests": ("reqs", "calls"), "errors": ("failures", "errs"), "latency": ("duration", "response_time"),
    "memory": ("mem", "ram"), "restarts": ("restart_count", "crashes"), "total": ("count", "sum"),
    "ready": ("healthy", "up"), "usage": ("used", "utilisation"),
}


class SchemaChange(LineRewriter):
    """Renamed fields in log lines and metric names, as after a logging-library or exporter upgrade."""

    name = "schema-change"

    def choose(self) -> None:
        rng = self.rng("fields")
        self.fields = {k: rng.choice(v) for k, v in FIELD_SYNONYMS.items()}
        self.words = {k: rng.choice(v) for k, v in METRIC_WORDS.items()}

    def log(self, line: LogLine, index: int) -> str | None:
        return rewrite_fields(line, lambda fields: {self.fields.get(k, k): v for k, v in fields.items()})

    def rename_metric(self, name: str) -> str:
        return "_".join(self.words.get(w, w) for w in name.split("_"))

    def sample(self, sample: Sample, index: int) -> str | None:
        labels = {self.fields.get(k, k): v for k, v in sample.labels.items()}
        return render_sample(Sample(self.rename_metric(sample.name), labels, sample.value, sample.rest))

    def meta(self, line: str) -> str:
        head, kind, rest = line[:7], line[2:6], line[7:].split(" ", 1)
        return head + " ".join([self.rename_metric(rest[0]), *rest[1:]]) if kind in ("HELP", "TYPE") else line


# --------------------------------------------------------------------------------------------- reorder fields
def _shuffled(keys: list[str], rng: Any) -> list[str]:
    order = list(keys)
    for _ in range(4):  # a permutation that actually moves something, when one exists
        rng.shuffle(order)
        if order != keys or len(keys) < 2:
            break
    return order


def _reorder(value: Any, rng: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reorder(value[k], rng) for k in _shuffled(list(value), rng)}
    if isinstance(value, list):
        return [_reorder(v, rng) for v in value]
    return value


class ReorderFields(LineRewriter):
    """The same fields in another order: log lines, metric labels, and whole JSON documents (kubectl -o json)."""

    name = "reorder-fields"

    def observation(self, text: str) -> str:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}") and "\n" in stripped:
            try:
                doc = json.loads(stripped)
            except json.JSONDecodeError:
                doc = None
            if isinstance(doc, dict):
                return json.dumps(_reorder(doc, self.rng(stripped)), indent=4)
        return super().observation(text)

    def log(self, line: LogLine, index: int) -> str | None:
        def change(fields: dict[str, Any]) -> dict[str, Any]:
            return {k: fields[k] for k in _shuffled(list(fields), self.rng(tuple(fields), index))}

        return rewrite_fields(line, change)

    def sample(self, sample: Sample, index: int) -> str | None:
        order = _shuffled(list(sample.labels), self.rng(sample.name, tuple(sample.labels)))
        return render_sample(Sample(sample.name, {k: sample.labels[k] for k in order}, sample.value, sample.rest))


# ------------------------------------------------------------------------------------------------ unit change
_CONVERSIONS: dict[str, tuple[str, float]] = {
    "ms": ("s", 0.001), "s": ("ms", 1000.0), "seconds": ("ms", 1000.0),
    "mib": ("bytes", 1048576.0), "mb": ("bytes", 1048576.0), "kib": ("bytes", 1024.0),
}
_BYTES_TO = {"mib": 1 / 1048576, "kib": 1 / 1024}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _fmt(x: float) -> int | float:
    return int(x) if float(x).is_integer() and abs(x) < 1e15 else round(x, 6)


class UnitChange(LineRewriter):
    """Values in other units: ``*_ms`` ↔ ``*_s``, ``*_bytes`` → ``*_mib`` or ``*_kib`` (by seed), ``*_mib`` → bytes.

    Every field or metric with a recognised unit suffix switches to its counterpart; the name changes with the value.

    Kubernetes quantities (``128Mi``, ``250m``) and kubectl tables are left alone: they are an API, not a log schema.
    """

    name = "unit-change"

    def choose(self) -> None:
        bytes_to = self.rng("units").choice(sorted(_BYTES_TO))
        self.conversions = {**_CONVERSIONS, "bytes": (bytes_to, _BYTES_TO[bytes_to])}

    def _field(self, key: str, value: Any) -> tuple[str, Any]:
        stem, _, unit = key.rpartition("_")
        if not stem or unit.lower() not in self.conversions:
            return key, value
        new_unit, factor = self.conversions[unit.lower()]
        number = _number(value)
        if number is None:
            return key, value
        return f"{stem}_{new_unit}", _fmt(number * factor)

    def log(self, line: LogLine, index: int) -> str | None:
        return rewrite_fields(line, lambda fields: dict(self._field(k, v) for k, v in fields.items()))

    def sample(self, sample: Sample, index: int) -> str | None:
        name, value = self._field(sample.name, sample.value)
        if name == sample.name:
            return None
        return render_sample(Sample(name, sample.labels, str(value), sample.rest))


# ------------------------------------------------------------------------------------------------------ noise
NOISE: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("warning", "GC pause exceeded soft target", {"pause_ms": 14}),
    ("warning", "config key cache.ttl is deprecated; using the default", {}),
    ("warning", "metrics flush retried", {"attempt": 2}),
    ("warning", "TLS certificate expires in 29 days", {"cert": "internal-ca"}),
    ("warning", "clock skew detected against NTP", {"skew_ms": 3}),
    ("info", "connection pool shrunk after idle period", {"idle_conns": 2}),
)
EVENT_NOISE = (
    ("Normal", "Pulled", "Container image already present on machine"),
    ("Warning", "DNSConfigForming", "Search Line limits were exceeded, some search paths have been omitted"),
    ("Warning", "FailedGetResourceMetric", "failed to get cpu utilization: metrics not yet available"),
)


class Noise(LineRewriter):
    """Extra benign warnings between real log lines (same format and service) and extra rows in event listings.

    Args:
        rate: about how many noise lines per real log line (at least one is added to every log excerpt).
    """

    name = "noise"

    def __init__(self, rate: float = 0.25) -> None:
        if not 0 < rate <= 5:
            raise ValueError(f"noise rate must be in (0, 5], got {rate}")
        self.rate = rate
        super().__init__()

    def observation(self, text: str) -> str:
        lines = text.split("\n")
        if lines and lines[0].split()[:2] == ["LAST", "SEEN"]:
            return self._events(lines)
        parsed = [(i, p) for i, line in enumerate(lines) if (p := parse_log_line(line)) is not None]
        if not parsed:
            return text
        rng = self.rng(text)
        count = max(1, round(len(parsed) * self.rate))
        inserts: dict[int, list[str]] = {}
        for _ in range(count):
            i, like = rng.choice(parsed)
            level, msg, extra = rng.choice(NOISE)
            fields = {k: like.fields[k] for k in ("ts", "time", "timestamp") if k in like.fields}
            fields |= {"level": level, "service": like.fields.get("service", "app"), "msg": msg, **extra}
            inserts.setdefault(i, []).append(render_log_line(LogLine(like.fmt, fields, like.indent)))
        out: list[str] = []
        for i, line in enumerate(lines):
            out += inserts.get(i, [])
            out.append(line)
        return "\n".join(out)

    def _events(self, lines: list[str]) -> str:
        header = lines[0]
        starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
        rows = [line for line in lines[1:] if line.strip()]
        if len(starts) < 5 or not rows:
            return "\n".join(lines)
        rng = self.rng("\n".join(lines))
        like = rng.choice(rows)
        cells = [like[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=False)]
        kind, reason, message = rng.choice(EVENT_NOISE)
        values = [cells[0], kind, reason, cells[3], message, *cells[5:]]
        row = "".join(v.ljust(e - s) if e else v for v, s, e in zip(values, starts, [*starts[1:], None], strict=False))
        position = rng.randint(1, len(lines) - (1 if lines[-1] == "" else 0))
        return "\n".join([*lines[:position], row.rstrip(), *lines[position:]])
