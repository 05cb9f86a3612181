import pytest

from tagcache.store import TaggedCache


def test_get_returns_what_was_set(cache):
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache.get("missing", "default") == "default"
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


def test_entries_expire_after_ttl(cache, clock):
    cache.set("a", 1)
    clock.advance(59.9)
    assert "a" in cache
    clock.advance(0.1)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_overwriting_resets_expiry(cache, clock):
    cache.set("a", 1)
    clock.advance(50)
    cache.set("a", 2)
    clock.advance(50)
    assert cache.get("a") == 2


def test_least_recently_used_entry_is_evicted(clock):
    cache = TaggedCache(ttl=60, max_entries=2, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.get("a")
    cache.set("c", 3)
    assert "a" in cache and "c" in cache and "b" not in cache
    assert cache.stats.evictions == 1


def test_invalidate_tag_removes_every_tagged_entry(cache):
    cache.set("p1", "spade", tags={"category:tools"})
    cache.set("p2", "rake", tags={"category:tools", "sale"})
    cache.set("p3", "hose", tags={"category:garden"})
    assert cache.invalidate_tag("category:tools") == 2
    assert "p1" not in cache and "p2" not in cache
    assert cache.get("p3") == "hose"
    assert cache.invalidate_tag("sale") == 0


def test_deleted_and_evicted_keys_leave_no_tags_behind(clock):
    cache = TaggedCache(ttl=60, max_entries=1, clock=clock)
    cache.set("a", 1, tags={"t"})
    assert cache.delete("a") is True and cache.delete("a") is False
    cache.set("b", 2, tags={"t"})
    cache.set("c", 3, tags={"u"})
    assert cache.tags_of("b") == frozenset()
    assert cache.invalidate_tag("t") == 0


def test_get_or_set_loads_once(cache):
    calls = []
    for _ in range(3):
        assert cache.get_or_set("k", lambda: calls.append(1) or "v", tags={"t"}) == "v"
    assert len(calls) == 1


@pytest.mark.parametrize("kwargs", [{"ttl": 0}, {"ttl": 10, "max_entries": 0}], ids=["ttl", "max-entries"])
def test_invalid_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        TaggedCache(**kwargs)
