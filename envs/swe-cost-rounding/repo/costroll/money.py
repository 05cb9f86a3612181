"""Money helpers: parsing amounts from exports and rounding them the way invoices do."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["CENT", "MoneyError", "format_usd", "round_cents", "to_decimal"]

CENT = Decimal("0.01")


class MoneyError(ValueError):
    """Raised for an amount that cannot be parsed."""


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Parse an amount as exported by billing tools: ``"1,234.50"``, ``"$0.0000166667"``, ``"-3"``.

    Floats are refused on purpose: ``0.1`` as a float is already wrong in the 18th digit,
    and billing exports carry up to ten decimal places.

    Raises:
        MoneyError: for floats, empty strings and anything that is not a number.
    """
    if isinstance(value, float):
        raise MoneyError(f"refusing float amount {value!r}; pass the original string instead")
    if isinstance(value, Decimal):
        return value
    text = str(value).strip().replace(",", "").replace("$", "")
    if text.startswith("(") and text.endswith(")"):
        text = "-" + text[1:-1]  # accounting notation for credits
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise MoneyError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return amount


def round_cents(amount: Decimal) -> Decimal:
    """Round to whole cents, halves away from zero, as cloud invoices do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_usd(amount: Decimal) -> str:
    """``Decimal("-1234.5")`` -> ``"-$1,234.50"``."""
    rounded = round_cents(amount)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.2f}"
