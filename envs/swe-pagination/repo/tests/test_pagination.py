import pytest

from hostinv.pagination import MAX_PER_PAGE, Page, PageOutOfRange, page_count, page_slice, paginate


def test_page_count_rounds_partial_page_up():
    assert page_count(95, 10) == 10
    assert page_count(1, 50) == 1


def test_empty_collection_has_one_page():
    assert page_count(0, 25) == 1
    assert paginate([], 1, 25).items == ()


@pytest.mark.parametrize("per_page", [0, -1, MAX_PER_PAGE + 1])
def test_per_page_is_validated(per_page):
    with pytest.raises(ValueError):
        page_count(10, per_page)


def test_negative_total_is_rejected():
    with pytest.raises(ValueError):
        page_count(-1, 10)


def test_page_slice_middle_and_partial_last_page():
    assert page_slice(2, 10, 95) == slice(10, 20)
    assert page_slice(10, 10, 95) == slice(90, 95)


def test_page_beyond_the_end_is_out_of_range():
    with pytest.raises(PageOutOfRange):
        page_slice(11, 10, 95)
    with pytest.raises(PageOutOfRange):
        page_slice(0, 10, 95)


def test_paginate_returns_items_and_navigation():
    page = paginate(list(range(95)), 3, 10)
    assert page.items == tuple(range(20, 30))
    assert page.has_prev and page.has_next
    assert page.summary() == "Showing 21-30 of 95"


def test_partial_last_page_has_no_next():
    page = Page(items=tuple(range(5)), number=10, per_page=10, total=95)
    assert not page.has_next
    assert page.summary() == "Showing 91-95 of 95"
