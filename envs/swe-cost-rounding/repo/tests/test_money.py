from decimal import Decimal

import pytest

from costroll.money import MoneyError, format_usd, round_cents, to_decimal


def test_parses_export_formats():
    assert to_decimal("1,234.50") == Decimal("1234.50")
    assert to_decimal("$0.0000166667") == Decimal("0.0000166667")
    assert to_decimal("(12.00)") == Decimal("-12.00")
    assert to_decimal(3) == Decimal(3)


def test_refuses_floats_and_garbage():
    for bad in (0.1, "", "abc", "NaN", "Infinity"):
        with pytest.raises(MoneyError):
            to_decimal(bad)


def test_round_cents_rounds_halves_away_from_zero():
    assert round_cents(Decimal("2.675")) == Decimal("2.68")
    assert round_cents(Decimal("0.125")) == Decimal("0.13")
    assert round_cents(Decimal("-0.125")) == Decimal("-0.13")
    assert round_cents(Decimal("0.0049")) == Decimal("0.00")


def test_format_usd():
    assert format_usd(Decimal("1234.5")) == "$1,234.50"
    assert format_usd(Decimal("-0.004")) == "$0.00"
    assert format_usd(Decimal("-12")) == "-$12.00"
