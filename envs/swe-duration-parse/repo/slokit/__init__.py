"""slokit: SLO definitions, error budgets and multi-window burn-rate alerts.

Durations are written the way Prometheus writes them (``30d``, ``1h30m``, ``1.5h``, ``250ms``)
so SLO files can be copied next to alerting rules.
"""

from slokit.duration import DurationError, format_duration, parse_duration
from slokit.slo import SLO, BurnRateAlert, SLOError, burn_rate_alerts

__all__ = [
    "SLO",
    "BurnRateAlert",
    "DurationError",
    "SLOError",
    "burn_rate_alerts",
    "format_duration",
    "parse_duration",
]
__version__ = "0.6.0"
