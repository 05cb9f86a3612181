"""Parsing of Kubernetes resource quantities ("500m", "1Gi", "1e3", "128974848").

The grammar follows ``k8s.io/apimachinery/pkg/api/resource``: a signed decimal number,
optionally followed by a decimal exponent (``e3``/``E3``), a binary SI suffix
(``Ki`` .. ``Ei``) or a decimal SI suffix (``n``, ``u``, ``m``, ``k``, ``M`` .. ``E``).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

__all__ = ["QuantityError", "parse_quantity", "to_int"]

_BINARY = {suffix: Decimal(1024) ** power for power, suffix in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), 1)}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_MULTIPLIERS = {**_DECIMAL, **_BINARY}

_QUANTITY_RE = re.compile(
    r"^(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>[a-zA-Z]{1,2}))?$"
)


class QuantityError(ValueError):
    """Raised for a string that is not a valid Kubernetes quantity."""


def parse_quantity(value: str | int | float) -> Decimal:
    """Return the exact value of a quantity in base units (cores, bytes, ...).

    Integers and floats are accepted because YAML turns ``cpu: 2`` or ``cpu: 0.5``
    into numbers rather than strings.

    Raises:
        QuantityError: if ``value`` does not follow the quantity grammar.
    """
    if isinstance(value, bool):
        raise QuantityError(f"quantity must be a number or a string, not {value!r}")
    text = str(value).strip()
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise QuantityError(f"invalid quantity {value!r}")
    try:
        number = Decimal(match["number"])
        if match["exponent"]:
            return number * Decimal(10) ** int(match["exponent"][1:])
    except (InvalidOperation, ValueError):
        raise QuantityError(f"invalid quantity {value!r}") from None
    suffix = match["suffix"] or ""
    if suffix not in _MULTIPLIERS:
        raise QuantityError(f"invalid quantity {value!r}: unknown suffix {suffix!r}")
    return number * _MULTIPLIERS[suffix]


def to_int(value: str | int | float) -> int:
    """Return the quantity as a whole number of base units, rounding up.

    This mirrors ``Quantity.Value()`` in client-go, which is what the kubelet uses when it
    needs an integer (for example bytes of memory).
    """
    return int(parse_quantity(value).to_integral_value(rounding=ROUND_CEILING))
