import pytest

from tinyini.values import read_quoted, to_bool, to_list, unquote


def test_unquoted_values_are_returned_verbatim():
    assert unquote("plain value") == "plain value"
    assert unquote("") == ""


def test_double_quotes_keep_whitespace_and_decode_escapes():
    assert unquote('"  padded  "') == "  padded  "
    assert unquote(r'"say \"hi\"\tnow"') == 'say "hi"\tnow'


def test_single_quotes_are_literal():
    assert unquote(r"'C:\temp\new'") == r"C:\temp\new"


def test_read_quoted_reports_the_closing_quote():
    assert read_quoted('"ab\\"c" rest') == ('ab"c', 6)


@pytest.mark.parametrize("raw", ['"open', "'open", '"a" b'], ids=["double", "single", "trailing-text"])
def test_malformed_quoting_is_an_error(raw):
    with pytest.raises(ValueError):
        unquote(raw)


def test_booleans_and_lists():
    assert to_bool("Yes") is True and to_bool("off") is False
    with pytest.raises(ValueError, match="not a boolean"):
        to_bool("maybe")
    assert to_list("a, b,,c\nd") == ["a", "b", "c", "d"]
