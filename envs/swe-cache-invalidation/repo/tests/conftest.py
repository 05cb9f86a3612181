from dataclasses import replace

import pytest

from tagcache.catalog import Product
from tagcache.store import TaggedCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class InMemoryRepository:
    """Source of truth for the catalog tests; counts reads so tests can see cache hits."""

    def __init__(self, *products: Product) -> None:
        self.products = {p.id: p for p in products}
        self.reads = 0

    def get(self, product_id):
        self.reads += 1
        return self.products[product_id]

    def list_category(self, category):
        self.reads += 1
        return [p for p in self.products.values() if p.category == category]

    def save(self, product):
        self.products[product.id] = product

    def discount_category(self, category, percent):
        for p in list(self.products.values()):
            if p.category == category:
                self.products[p.id] = replace(p, price_cents=p.price_cents * (100 - percent) // 100)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cache(clock):
    return TaggedCache(ttl=60, max_entries=100, clock=clock)


@pytest.fixture
def repository():
    return InMemoryRepository(
        Product(1, "spade", "tools", 2500),
        Product(2, "rake", "tools", 1800),
        Product(3, "hose", "garden", 3200),
    )
