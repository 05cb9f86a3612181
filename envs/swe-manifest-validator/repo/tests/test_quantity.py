from decimal import Decimal

import pytest

from kubecheck.quantity import QuantityError, parse_quantity, to_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Decimal(1)),
        (2, Decimal(2)),
        ("0.5", Decimal("0.5")),
        ("250m", Decimal("0.25")),
        ("1k", Decimal(1000)),
        ("3M", Decimal(3_000_000)),
        ("1e3", Decimal(1000)),
        ("5E-1", Decimal("0.5")),
    ],
)
def test_decimal_quantities(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1Ki", 1024), ("128Mi", 128 * 2**20), ("1.5Gi", 3 * 2**29), ("2Ti", 2 * 2**40)],
)
def test_binary_quantities(text, expected):
    assert parse_quantity(text) == expected


def test_exa_suffix_is_not_an_exponent():
    assert parse_quantity("2E") == Decimal("2e18")


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "10Mb", "1GiB", "--1", True])
def test_invalid_quantities_raise(text):
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_to_int_rounds_up_like_client_go():
    assert to_int("1500m") == 2
    assert to_int("100Mi") == 104857600
    assert to_int("0.1") == 1
