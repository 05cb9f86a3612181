import pytest

from semverkit import InvalidVersion, Version, parse


def test_parse_all_parts():
    version = parse("1.2.3-rc.1+build.5")
    assert (version.major, version.minor, version.patch) == (1, 2, 3)
    assert version.prerelease == ("rc", "1")
    assert version.build == ("build", "5")
    assert version.is_prerelease


def test_leading_v_from_git_tags():
    assert parse("v2.0.0") == Version(2, 0, 0)


@pytest.mark.parametrize(
    "text", ["", "1", "1.2", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-rc..1", "1.2.3.4"], ids=repr
)
def test_invalid_versions(text):
    with pytest.raises(InvalidVersion):
        parse(text)


def test_str_round_trips():
    for text in ("0.0.1", "1.2.3-alpha.1", "1.2.3+sha.deadbee", "10.20.30-rc.1+build.2"):
        assert str(parse(text)) == text


def test_core_numbers_compare_numerically():
    assert parse("1.10.0") > parse("1.9.0")
    assert parse("2.0.0") > parse("1.99.99")
    assert parse("0.0.10") > parse("0.0.9")


def test_release_sorts_after_its_prereleases():
    assert parse("1.0.0-rc.1") < parse("1.0.0")
    assert parse("1.0.0") < parse("1.0.1-alpha")


def test_build_metadata_is_ignored_for_precedence():
    assert parse("1.0.0+a") == parse("1.0.0+b")
    assert len({parse("1.0.0+a"), parse("1.0.0+b")}) == 1
    assert parse("1.0.0-rc.1+x") < parse("1.0.0+y")


def test_alphanumeric_prerelease_identifiers_compare_lexically():
    assert parse("1.0.0-alpha") < parse("1.0.0-beta") < parse("1.0.0-rc")
    assert parse("1.0.0-alpha") < parse("1.0.0-alpha.1")


def test_bump():
    version = parse("1.4.2-rc.1+build.7")
    assert str(version.bump("major")) == "2.0.0"
    assert str(version.bump("minor")) == "1.5.0"
    assert str(version.bump("patch")) == "1.4.2"
    assert str(parse("1.4.2").bump("patch")) == "1.4.3"
    with pytest.raises(ValueError, match="part"):
        version.bump("build")
