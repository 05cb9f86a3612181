from dataclasses import replace

import pytest

from tagcache.catalog import CachedCatalog


@pytest.fixture
def catalog(repository, cache):
    return CachedCatalog(repository, cache)


def test_product_reads_are_cached(catalog, repository):
    assert catalog.product(1).name == "spade"
    assert catalog.product(1).name == "spade"
    assert repository.reads == 1


def test_category_listing_is_cached(catalog, repository):
    assert [p.id for p in catalog.category("tools")] == [1, 2]
    catalog.category("tools")
    assert repository.reads == 1


def test_update_is_written_through(catalog, repository):
    catalog.update_product(replace(catalog.product(2), price_cents=1500))
    reads = repository.reads
    assert catalog.product(2).price_cents == 1500
    assert repository.reads == reads


def test_update_refreshes_old_and_new_category_listings(catalog):
    catalog.category("tools")
    catalog.category("garden")
    catalog.update_product(replace(catalog.product(1), category="garden"))
    assert [p.id for p in catalog.category("tools")] == [2]
    assert [p.id for p in catalog.category("garden")] == [1, 3]


def test_discount_refreshes_cached_products_and_listing(catalog):
    catalog.product(1)
    catalog.category("tools")
    catalog.discount_category("tools", 20)
    assert catalog.product(1).price_cents == 2000
    assert [p.price_cents for p in catalog.category("tools")] == [2000, 1440]


def test_discount_leaves_other_categories_cached(catalog, repository):
    catalog.product(3)
    catalog.discount_category("tools", 10)
    reads = repository.reads
    assert catalog.product(3).price_cents == 3200
    assert repository.reads == reads


def test_discount_percent_is_validated(catalog):
    with pytest.raises(ValueError):
        catalog.discount_category("tools", 100)
