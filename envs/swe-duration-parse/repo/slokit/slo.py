"""Service level objectives, their error budgets and the burn-rate alerts that protect them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slokit.duration import DurationError, format_duration, parse_duration

__all__ = ["SLO", "BurnRateAlert", "SLOError", "burn_rate_alerts"]

# The multi-window, multi-burn-rate table from the Google SRE Workbook ("Alerting on SLOs"),
# written for a 30-day window: (long window, short window, burn rate, severity).
_WORKBOOK_TABLE = (
    ("1h", "5m", 14.4, "page"),
    ("6h", "30m", 6.0, "page"),
    ("1d", "2h", 3.0, "ticket"),
    ("3d", "6h", 1.0, "ticket"),
)


class SLOError(ValueError):
    """Raised for an SLO definition that cannot be used."""


@dataclass(frozen=True)
class SLO:
    """An objective such as "99.9% of requests succeed over 30 days"."""

    name: str
    objective: float
    window: dt.timedelta

    def __post_init__(self) -> None:
        if not 0 < self.objective < 1:
            raise SLOError(f"{self.name}: objective must be between 0 and 1 (e.g. 0.999), got {self.objective}")
        if self.window <= dt.timedelta(0):
            raise SLOError(f"{self.name}: window must be positive")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SLO:
        """Build from a config entry: ``{"name": "api", "objective": "99.9%", "window": "30d"}``."""
        try:
            name = config["name"]
            objective = config["objective"]
            window = parse_duration(str(config.get("window", "30d")))
        except KeyError as exc:
            raise SLOError(f"SLO config is missing {exc.args[0]!r}") from None
        except DurationError as exc:
            raise SLOError(f"{config.get('name', '?')}: {exc}") from None
        if isinstance(objective, str) and objective.endswith("%"):
            objective = Decimal(objective[:-1]) / 100  # 99.9 / 100 in floats is 0.9990000000000001
        return cls(name, float(objective), window)

    @property
    def error_budget(self) -> dt.timedelta:
        """How long the service may be fully down within the window."""
        return self.window * (1 - self.objective)

    def burn_rate(self, error_ratio: float) -> float:
        """How many times faster than sustainable the budget is being spent."""
        return error_ratio / (1 - self.objective)

    def time_to_exhaustion(self, error_ratio: float) -> dt.timedelta | None:
        """When the whole budget would be gone at this error ratio; ``None`` if never."""
        rate = self.burn_rate(error_ratio)
        return self.window / rate if rate > 0 else None


@dataclass(frozen=True)
class BurnRateAlert:
    """Fire when both windows burn faster than ``burn_rate``."""

    long_window: dt.timedelta
    short_window: dt.timedelta
    burn_rate: float
    severity: str

    def error_ratio_threshold(self, slo: SLO) -> float:
        return self.burn_rate * (1 - slo.objective)

    def describe(self) -> str:
        return (
            f"{self.severity}: burn rate > {self.burn_rate:g} over {format_duration(self.long_window)}"
            f" and {format_duration(self.short_window)}"
        )


def burn_rate_alerts(slo: SLO) -> list[BurnRateAlert]:
    """The workbook's alerts, with windows scaled to the SLO's window (so a 7-day SLO gets shorter windows)."""
    scale = slo.window / dt.timedelta(days=30)
    return [
        BurnRateAlert(parse_duration(long) * scale, parse_duration(short) * scale, rate, severity)
        for long, short, rate, severity in _WORKBOOK_TABLE
    ]
