"""Quantities read as Kubernetes reads them: every suffix, exactly, and a clear error for what is not one."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opsgym.errors import QuantityError
from opsgym.k8s.quantity import MIB, memory_mib, parse_quantity, quantity_or


@pytest.mark.parametrize("text, value", [
    ("1Gi", 2**30), ("128Mi", 128 * 2**20), ("1Ki", 1024), ("2Ti", 2 * 2**40), ("1Ei", 2**60),
    ("500m", Decimal("0.5")), ("250m", Decimal("0.25")), ("100u", Decimal("0.0001")), ("5n", Decimal("5e-9")),
    ("1e3", 1000), ("1E3", 1000), ("0.5", Decimal("0.5")), ("1.5Gi", 3 * 2**29), ("100k", 100_000), ("1M", 10**6),
    ("1G", 10**9), ("1E", 10**18), ("  64Mi ", 64 * 2**20), ("-1Gi", -(2**30)), ("+2", 2), ("0", 0),
])
def test_quantities_in_base_units(text, value):
    assert parse_quantity(text) == value


def test_values_are_exact_decimals_not_floats():
    """Ten 100m requests are exactly one core (floats would make 0.1 * 10 a hair off)."""
    assert sum(parse_quantity("100m") for _ in range(10)) == 1
    assert isinstance(parse_quantity("100m"), Decimal)


@pytest.mark.parametrize("number", [2, 0.25, Decimal("1.5")])
def test_numbers_pass_through(number):
    """YAML reads ``cpu: 2`` as an int; it is the quantity 2."""
    assert parse_quantity(number) == Decimal(str(number))


@pytest.mark.parametrize("bad", ["128MB", "1Gib", "1.2.3", "", "   ", "abc", "Gi", "inf", "nan", None, True])
def test_what_is_not_a_quantity_is_rejected_with_examples(bad):
    with pytest.raises(QuantityError) as caught:
        parse_quantity(bad)
    message = str(caught.value)
    assert repr(bad) in message and "128Mi" in message and "500m" in message
    assert isinstance(caught.value, ValueError)  # callers that catch ValueError keep working


def test_quantity_or_gives_a_float_or_the_default():
    assert quantity_or("1Gi", 0.0) == float(2**30) and isinstance(quantity_or("1Gi", 0.0), float)
    assert quantity_or("128MB", 0.0) == 0.0
    assert quantity_or("128MB", None) is None


def test_memory_in_mib():
    assert memory_mib("1Gi") == 1024.0 and memory_mib("512Ki") == 0.5 and memory_mib("1e6") == 1e6 / MIB
    assert memory_mib("lots") == 0.0
