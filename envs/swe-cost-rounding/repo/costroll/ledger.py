"""Line items of a billing export and the CSV reader that produces them."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from costroll.money import MoneyError, to_decimal

__all__ = ["UNALLOCATED", "LedgerError", "LineItem", "read_csv"]

UNALLOCATED = "unallocated"
_REQUIRED = ("account", "service", "usage_quantity", "unit_price")


class LedgerError(ValueError):
    """Raised for a malformed export, naming the line."""


@dataclass(frozen=True)
class LineItem:
    """One usage line: a quantity of something at a unit price, charged to a team."""

    account: str
    service: str
    team: str
    usage_quantity: Decimal
    unit_price: Decimal

    @property
    def cost(self) -> Decimal:
        """Exact cost of the line, with every decimal place the export provides."""
        return self.usage_quantity * self.unit_price


def _team(row: dict[str, str]) -> str:
    team = (row.get("tag:team") or "").strip().lower()
    return team or UNALLOCATED


def parse_rows(rows: Iterable[dict[str, str]]) -> Iterator[LineItem]:
    """Turn CSV rows into line items; ``line`` numbers in errors count the header as line 1."""
    for line, row in enumerate(rows, start=2):
        missing = [name for name in _REQUIRED if not (row.get(name) or "").strip()]
        if missing:
            raise LedgerError(f"line {line}: missing {', '.join(missing)}")
        try:
            quantity, price = to_decimal(row["usage_quantity"]), to_decimal(row["unit_price"])
        except MoneyError as exc:
            raise LedgerError(f"line {line}: {exc}") from None
        yield LineItem(row["account"].strip(), row["service"].strip(), _team(row), quantity, price)


def read_csv(stream: TextIO) -> list[LineItem]:
    """Read a billing export with columns account, service, usage_quantity, unit_price and optional tag:team."""
    return list(parse_rows(csv.DictReader(stream)))
