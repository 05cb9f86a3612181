import pytest

from tagcache.keys import make_key, split_key


def test_parts_are_joined_under_a_namespace():
    assert make_key("product", 42) == "product|42"


def test_separator_inside_a_part_cannot_collide():
    assert make_key("user", "a|b", "c") != make_key("user", "a", "b|c")
    assert make_key("user", "a\\", "b") != make_key("user", "a", "\\b")


def test_split_key_inverts_make_key():
    parts = ["ns", "a|b", "back\\slash", ""]
    assert split_key(make_key(*parts)) == parts


def test_namespace_is_required():
    with pytest.raises(ValueError):
        make_key("")
