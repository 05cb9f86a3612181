"""Aggregate figures over parsed records, the numbers a dashboard or an incident review starts from."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from accesslog.record import AccessRecord

__all__ = ["Summary", "percentile", "summarize"]


@dataclass(frozen=True)
class Summary:
    requests: int
    bytes_sent: int
    by_status_class: dict[str, int]
    top_paths: list[tuple[str, int]]
    top_agents: list[tuple[str, int]]
    p95_duration: float | None


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of non-empty ``values``."""
    if not values:
        raise ValueError("percentile of an empty list")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(records: Iterable[AccessRecord], top: int = 5) -> Summary:
    """Totals, status mix, busiest paths and clients, and p95 latency when durations were logged."""
    records = list(records)
    paths = Counter(r.path for r in records if r.path is not None)
    agents = Counter(r.agent for r in records if r.agent)
    durations = [r.duration for r in records if r.duration is not None]
    return Summary(
        requests=len(records),
        bytes_sent=sum(r.size for r in records),
        by_status_class=dict(sorted(Counter(r.status_class for r in records).items())),
        top_paths=paths.most_common(top),
        top_agents=agents.most_common(top),
        p95_duration=percentile(durations, 95) if durations else None,
    )
