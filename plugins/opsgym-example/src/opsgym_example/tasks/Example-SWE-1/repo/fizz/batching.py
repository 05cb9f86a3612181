"""Split a sequence of work items into fixed-size batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def batch_count(total: int, size: int) -> int:
    """How many batches of ``size`` it takes to hold ``total`` items."""
    if size <= 0:
        raise ValueError("size must be positive")
    return total // size


def batches(items: Sequence[T], size: int) -> list[list[T]]:
    """The items in order, ``size`` at a time; the last batch may be shorter."""
    return [list(items[i * size : (i + 1) * size]) for i in range(batch_count(len(items), size))]
