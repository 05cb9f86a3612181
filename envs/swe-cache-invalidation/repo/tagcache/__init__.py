"""In-process TTL/LRU cache with tag-based invalidation, and a cached product catalog built on it."""

from tagcache.catalog import CachedCatalog, Product
from tagcache.keys import make_key
from tagcache.store import TaggedCache

__all__ = ["CachedCatalog", "Product", "TaggedCache", "make_key"]
