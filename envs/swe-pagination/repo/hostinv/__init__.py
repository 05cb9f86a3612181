"""Client library for the host inventory HTTP API."""

from hostinv.client import ApiError, HostsClient, Response
from hostinv.links import build_link_header, parse_link_header
from hostinv.pagination import Page, PageOutOfRange, page_count, page_slice, paginate

__all__ = [
    "ApiError",
    "HostsClient",
    "Page",
    "PageOutOfRange",
    "Response",
    "build_link_header",
    "page_count",
    "page_slice",
    "paginate",
    "parse_link_header",
]

__version__ = "0.4.2"
