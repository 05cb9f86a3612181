"""Page arithmetic shared by the client and the reference server.

The inventory API numbers pages from 1. A request names a page and a page size
(``per_page``); the response carries the items of that page and the total number
of items in the collection, from which everything else (how many pages there
are, whether there is a next one) is derived here so that client and server
agree on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "Page",
    "PageOutOfRange",
    "page_count",
    "page_slice",
    "paginate",
    "validate_per_page",
]

T = TypeVar("T")

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500


class PageOutOfRange(LookupError):
    """A page number outside ``1..pages`` was requested."""


def validate_per_page(per_page: int) -> int:
    """Return ``per_page`` if the server would accept it, else raise ``ValueError``."""
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ValueError(f"per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}")
    return per_page


def page_count(total: int, per_page: int) -> int:
    """Number of pages needed to show ``total`` items, ``per_page`` at a time.

    An empty collection still has one (empty) page, so that page 1 is always a
    valid request and callers need no special case for "no results".
    """
    validate_per_page(per_page)
    if total < 0:
        raise ValueError(f"total must not be negative, got {total}")
    return (total + per_page) // per_page


def page_slice(page: int, per_page: int, total: int) -> slice:
    """Index range of ``page`` within a collection of ``total`` items."""
    pages = page_count(total, per_page)
    if not 1 <= page <= pages:
        raise PageOutOfRange(f"page {page} is outside 1..{pages}")
    start = (page - 1) * per_page
    return slice(start, min(start + per_page, total))


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a collection, as returned by the API."""

    items: tuple[T, ...]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the whole collection spans."""
        return page_count(self.total, self.per_page)

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    def summary(self) -> str:
        """Human-readable position, e.g. ``"Showing 11-20 of 95"``."""
        if not self.items:
            return f"Showing 0 of {self.total}"
        first = (self.number - 1) * self.per_page + 1
        return f"Showing {first}-{first + len(self.items) - 1} of {self.total}"


def paginate(items: Sequence[T], page: int, per_page: int) -> Page[T]:
    """Cut ``items`` into pages and return page number ``page``."""
    window = page_slice(page, per_page, len(items))
    return Page(items=tuple(items[window]), number=page, per_page=per_page, total=len(items))
