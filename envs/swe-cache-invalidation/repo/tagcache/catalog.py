"""A read-through, write-through cache in front of a product repository.

Tags used:

* ``product:<id>`` on the cached product;
* ``category:<name>`` on cached products of that category, so that a
  category-wide change (a discount) refreshes them all;
* ``listing:<name>`` on the cached listing of a category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tagcache.keys import make_key
from tagcache.store import TaggedCache

__all__ = ["CachedCatalog", "Product", "ProductRepository"]


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    category: str
    price_cents: int


class ProductRepository(Protocol):
    """The slow source of truth (a database in production)."""

    def get(self, product_id: int) -> Product: ...

    def list_category(self, category: str) -> list[Product]: ...

    def save(self, product: Product) -> None: ...

    def discount_category(self, category: str, percent: int) -> None: ...


def _product_tags(product: Product) -> tuple[str, str]:
    return f"product:{product.id}", f"category:{product.category}"


class CachedCatalog:
    """Serve product reads from the cache and keep it coherent on writes."""

    def __init__(self, repository: ProductRepository, cache: TaggedCache) -> None:
        self._repository = repository
        self._cache = cache

    def product(self, product_id: int) -> Product:
        key = make_key("product", product_id)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        product = self._repository.get(product_id)
        self._cache.set(key, product, tags=_product_tags(product))
        return product

    def category(self, name: str) -> list[Product]:
        return self._cache.get_or_set(
            make_key("listing", name), lambda: self._repository.list_category(name), tags=(f"listing:{name}",)
        )

    def update_product(self, product: Product) -> None:
        """Save ``product`` and cache the new version (write-through)."""
        previous = self.product(product.id)
        self._repository.save(product)
        for category in {previous.category, product.category}:
            self._cache.invalidate_tag(f"listing:{category}")
        self._cache.set(make_key("product", product.id), product, tags=_product_tags(product))

    def discount_category(self, category: str, percent: int) -> None:
        """Reduce every price in ``category`` by ``percent`` and drop what the change makes stale."""
        if not 0 < percent < 100:
            raise ValueError(f"percent must be between 1 and 99, got {percent}")
        self._repository.discount_category(category, percent)
        self._cache.invalidate_tag(f"category:{category}")
        self._cache.invalidate_tag(f"listing:{category}")
