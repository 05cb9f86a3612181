"""costroll: roll a cloud billing export up into per-team cost reports (showback).

Amounts are :class:`decimal.Decimal` throughout; floats never touch money.
"""

from costroll.ledger import LineItem, read_csv
from costroll.money import format_usd, round_cents, to_decimal
from costroll.report import CostReport, build_report, grand_total, service_breakdown, team_totals

__all__ = [
    "CostReport",
    "LineItem",
    "build_report",
    "format_usd",
    "grand_total",
    "read_csv",
    "round_cents",
    "service_breakdown",
    "team_totals",
    "to_decimal",
]
__version__ = "1.3.0"
