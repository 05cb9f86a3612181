"""A bounded in-process cache with per-entry expiry and tag-based invalidation.

Entries expire ``ttl`` seconds after they were last written. When the cache is
full, the least recently used entry is evicted. Each entry may carry *tags*
naming the data it was derived from; ``invalidate_tag`` drops every entry that
depends on that data in one call, so writers need not know every key that a
change affects.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["CacheStats", "TaggedCache"]


@dataclass
class _Entry:
    value: Any
    expires_at: float
    tags: frozenset[str]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class TaggedCache:
    """TTL + LRU cache whose entries can be invalidated by tag."""

    def __init__(self, ttl: float, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._tags: dict[str, set[Hashable]] = {}
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.expires_at > self._clock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The cached value, or ``default`` when missing or expired."""
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= self._clock():
            if entry is not None:
                self._drop(key)
            self.stats.misses += 1
            return default
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry.value

    def set(self, key: Hashable, value: Any, tags: Iterable[str] = ()) -> None:
        """Store ``value`` under ``key``, tagged with ``tags``; resets its expiry."""
        expires_at = self._clock() + self._ttl
        entry = self._entries.get(key)
        if entry is not None:
            entry.value = value
            entry.expires_at = expires_at
            self._entries.move_to_end(key)
            return
        tags = frozenset(tags)
        self._entries[key] = _Entry(value, expires_at, tags)
        for tag in tags:
            self._tags.setdefault(tag, set()).add(key)
        while len(self._entries) > self._max_entries:
            self._drop(next(iter(self._entries)))
            self.stats.evictions += 1

    def get_or_set(self, key: Hashable, loader: Callable[[], Any], tags: Iterable[str] = ()) -> Any:
        """Return the cached value, loading and storing it on a miss."""
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            value = loader()
            self.set(key, value, tags)
        return value

    def delete(self, key: Hashable) -> bool:
        """Remove ``key``; True if it was present."""
        if key not in self._entries:
            return False
        self._drop(key)
        return True

    def invalidate_tag(self, tag: str) -> int:
        """Remove every entry tagged ``tag``; returns how many were removed."""
        keys = list(self._tags.get(tag, ()))
        for key in keys:
            self._drop(key)
        return len(keys)

    def tags_of(self, key: Hashable) -> frozenset[str]:
        """The tags ``key`` is indexed under (empty if absent)."""
        return frozenset(tag for tag, keys in self._tags.items() if key in keys)

    def clear(self) -> None:
        self._entries.clear()
        self._tags.clear()

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        for tag in entry.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]
