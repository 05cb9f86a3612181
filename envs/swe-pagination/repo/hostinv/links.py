"""RFC 8288 ``Link`` headers for paginated responses.

The reference server advertises ``first``, ``prev``, ``next`` and ``last``
relations so that generic HTTP tooling can walk the collection without knowing
the API's query parameters.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from hostinv.pagination import Page

__all__ = ["build_link_header", "page_from_url", "parse_link_header"]

_LINK = re.compile(r'<(?P<url>[^>]*)>\s*;\s*rel="?(?P<rel>[A-Za-z]+)"?')


def _page_url(base_url: str, number: int, per_page: int) -> str:
    parts = urlsplit(base_url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    query.update(page=str(number), per_page=str(per_page))
    return urlunsplit(parts._replace(query=urlencode(query)))


def build_link_header(base_url: str, page: Page) -> str:
    """The ``Link`` header value for ``page`` of the collection at ``base_url``."""
    rels = {"first": 1}
    if page.has_prev:
        rels["prev"] = page.number - 1
    if page.has_next:
        rels["next"] = page.number + 1
    rels["last"] = page.pages
    return ", ".join(f'<{_page_url(base_url, n, page.per_page)}>; rel="{rel}"' for rel, n in rels.items())


def parse_link_header(value: str) -> dict[str, str]:
    """Map each relation in a ``Link`` header to its URL (later duplicates win)."""
    return {m["rel"].lower(): m["url"] for m in _LINK.finditer(value or "")}


def page_from_url(url: str) -> int:
    """The ``page`` query parameter of a link URL (1 when absent)."""
    values = parse_qs(urlsplit(url).query).get("page")
    return int(values[-1]) if values else 1
