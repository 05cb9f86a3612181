"""Aggregations for the monthly showback report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from costroll.ledger import LineItem
from costroll.money import format_usd, round_cents

__all__ = ["CostReport", "build_report", "grand_total", "service_breakdown", "team_totals"]


def grand_total(items: Iterable[LineItem]) -> Decimal:
    """The amount the invoice shows: the exact sum of every line, rounded once."""
    return round_cents(sum((item.cost for item in items), Decimal(0)))


def team_totals(items: Iterable[LineItem]) -> dict[str, Decimal]:
    """Cost per team in cents, largest first (ties by name) so the report reads top-down."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        totals[item.team] += round_cents(item.cost)
    return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))


def service_breakdown(items: Iterable[LineItem], team: str) -> dict[str, Decimal]:
    """Cost per service for one team, rounded to cents."""
    exact: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        if item.team == team:
            exact[item.service] += item.cost
    return {service: round_cents(amount) for service, amount in sorted(exact.items())}


@dataclass
class CostReport:
    """What the monthly e-mail shows: a total and one row per team."""

    period: str
    total: Decimal
    teams: dict[str, Decimal] = field(default_factory=dict)

    def render(self) -> str:
        """Plain-text table, one team per line, total last."""
        width = max([len(team) for team in self.teams] + [len("total")])
        lines = [f"Cloud costs for {self.period}"]
        lines += [f"  {team:<{width}}  {format_usd(amount):>14}" for team, amount in self.teams.items()]
        lines.append(f"  {'total':<{width}}  {format_usd(self.total):>14}")
        return "\n".join(lines)


def build_report(items: Iterable[LineItem], period: str) -> CostReport:
    """Build the report for one billing period."""
    items = list(items)
    return CostReport(period=period, total=grand_total(items), teams=team_totals(items))
