import pytest
from fizz import batch_count, batches


def test_even_split():
    assert batches([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]


def test_count_even():
    assert batch_count(10, 5) == 2


def test_size_must_be_positive():
    with pytest.raises(ValueError):
        batch_count(3, 0)
