"""A small client for ``GET /v1/hosts``.

The HTTP layer is injected as a *transport* (anything with a ``get(path,
params)`` method returning a :class:`Response`), which keeps this module free
of any particular HTTP library and lets tests run against an in-memory server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hostinv.pagination import DEFAULT_PER_PAGE, Page, PageOutOfRange, validate_per_page

__all__ = ["ApiError", "HostsClient", "Response", "Transport"]

HOSTS_PATH = "/v1/hosts"


@dataclass(frozen=True)
class Response:
    """What a transport hands back: status, headers and the decoded JSON body."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    def get(self, path: str, params: Mapping[str, str]) -> Response: ...


class ApiError(RuntimeError):
    """The server answered with an unexpected status."""

    def __init__(self, status: int, path: str, detail: str = "") -> None:
        super().__init__(f"GET {path} failed with HTTP {status}" + (f": {detail}" if detail else ""))
        self.status = status
        self.path = path


class HostsClient:
    """Read hosts from the inventory, one page or the whole collection."""

    def __init__(self, transport: Transport, per_page: int = DEFAULT_PER_PAGE) -> None:
        self._transport = transport
        self.per_page = validate_per_page(per_page)

    def get_page(self, number: int) -> Page[dict]:
        """Fetch one page; a 404 means the page does not exist."""
        params = {"page": str(number), "per_page": str(self.per_page)}
        response = self._transport.get(HOSTS_PATH, params)
        if response.status == 404:
            raise PageOutOfRange(f"server has no page {number} of {HOSTS_PATH}")
        if response.status != 200:
            detail = response.body.get("error", "") if isinstance(response.body, dict) else ""
            raise ApiError(response.status, HOSTS_PATH, detail)
        body = response.body
        return Page(items=tuple(body["items"]), number=number, per_page=self.per_page, total=int(body["total"]))

    def iter_pages(self) -> Iterator[Page[dict]]:
        """Yield every page in order, starting at page 1."""
        page = self.get_page(1)
        yield page
        while page.has_next:
            page = self.get_page(page.number + 1)
            yield page

    def iter_hosts(self) -> Iterator[dict]:
        """Yield every host of the inventory."""
        for page in self.iter_pages():
            yield from page.items

    def count(self) -> int:
        """Total number of hosts, from the first page's metadata."""
        return self.get_page(1).total
