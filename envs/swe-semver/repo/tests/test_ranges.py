import pytest

from semverkit import InvalidVersion, max_satisfying, satisfies


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("1.4.0", ">=1.2.0 <2.0.0", True),
        ("2.0.0", ">=1.2.0 <2.0.0", False),
        ("1.2.0", ">1.2.0", False),
        ("1.2.0", "=1.2.0", True),
        ("1.2.0", "1.2.0", True),
        ("3.0.0", "<2.0.0 || >=3.0.0", True),
    ],
    ids=str,
)
def test_plain_comparators(version, constraint, expected):
    assert satisfies(version, constraint) is expected


def test_caret_ranges():
    assert satisfies("1.9.9", "^1.4")
    assert not satisfies("2.0.0", "^1.4")
    assert not satisfies("0.3.0", "^0.2.3")
    assert satisfies("0.2.9", "^0.2.3")
    assert not satisfies("0.0.4", "^0.0.3")


def test_tilde_ranges():
    assert satisfies("1.4.9", "~1.4.2")
    assert not satisfies("1.5.0", "~1.4.2")
    assert satisfies("1.9.0", "~1")


def test_x_ranges():
    assert satisfies("1.7.3", "1.x")
    assert not satisfies("2.0.0", "1.x")
    assert satisfies("1.2.7", "1.2")
    assert satisfies("9.9.9", "*")


def test_next_major_prereleases_are_excluded():
    assert not satisfies("2.0.0-alpha.1", "^1.4")
    assert not satisfies("2.0.0-alpha.1", "1.x")


def test_bad_ranges_raise():
    with pytest.raises(InvalidVersion):
        satisfies("1.0.0", ">=one")


def test_max_satisfying():
    tags = ["1.2.0", "1.10.0", "1.9.3", "2.0.0", "not-a-version", "v1.11.0-rc.1"]
    assert max_satisfying(tags, "^1.2") == "v1.11.0-rc.1"
    assert max_satisfying(tags, "~1.9") == "1.9.3"
    assert max_satisfying(tags, ">=3") is None
