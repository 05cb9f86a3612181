from hostinv.links import build_link_header, page_from_url, parse_link_header
from hostinv.pagination import Page

BASE = "https://inventory.example/v1/hosts?status=active"


def _page(number, total, per_page=10):
    return Page(items=(), number=number, per_page=per_page, total=total)


def test_first_page_has_no_prev():
    links = parse_link_header(build_link_header(BASE, _page(1, 95)))
    assert set(links) == {"first", "next", "last"}
    assert page_from_url(links["next"]) == 2
    assert page_from_url(links["last"]) == 10


def test_middle_page_links_both_ways():
    links = parse_link_header(build_link_header(BASE, _page(4, 95)))
    assert {rel: page_from_url(url) for rel, url in links.items()} == {"first": 1, "prev": 3, "next": 5, "last": 10}


def test_links_keep_existing_query_parameters():
    links = parse_link_header(build_link_header(BASE, _page(2, 95)))
    assert "status=active" in links["prev"]
    assert "per_page=10" in links["prev"]


def test_parse_link_header_tolerates_spacing_and_case():
    value = '<https://x/h?page=2>;rel=next,  <https://x/h?page=9> ; rel="LAST"'
    assert parse_link_header(value) == {"next": "https://x/h?page=2", "last": "https://x/h?page=9"}
    assert parse_link_header("") == {}
