import pytest

from hostinv.client import ApiError, HostsClient
from hostinv.pagination import PageOutOfRange


def test_iter_hosts_reads_every_page(inventory):
    server = inventory(95)
    hosts = list(HostsClient(server, per_page=10).iter_hosts())
    assert [h["id"] for h in hosts] == list(range(1, 96))
    assert [r["page"] for r in server.requests] == [str(n) for n in range(1, 11)]


def test_single_page_collection_needs_one_request(inventory):
    server = inventory(3)
    assert len(list(HostsClient(server).iter_hosts())) == 3
    assert len(server.requests) == 1


def test_empty_inventory_yields_nothing(inventory):
    server = inventory(0)
    assert list(HostsClient(server).iter_hosts()) == []


def test_count_uses_first_page(inventory):
    assert HostsClient(inventory(120), per_page=25).count() == 120


def test_server_error_is_raised(inventory):
    server = inventory(10)
    server.fail_with = 503
    with pytest.raises(ApiError, match="HTTP 503: backend unavailable"):
        HostsClient(server).get_page(1)


def test_missing_page_raises_page_out_of_range(inventory):
    with pytest.raises(PageOutOfRange):
        HostsClient(inventory(10), per_page=10).get_page(2)
