import pytest

from tinyini.errors import ParseError
from tinyini.lexer import Token, strip_inline_comment, tokenize


def test_tokens_for_sections_assignments_and_continuations():
    text = "[server]\nhosts = a\n    b\n# comment\n\n[db] ; primary\nport: 5432\n"
    assert list(tokenize(text)) == [
        Token("section", 1, name="server"),
        Token("assign", 2, name="hosts", value="a"),
        Token("continue", 3, value="b"),
        Token("section", 6, name="db"),
        Token("assign", 7, name="port", value="5432"),
    ]


def test_inline_comments_need_leading_whitespace():
    assert strip_inline_comment("8080   # default port") == "8080"
    assert strip_inline_comment("8080 ; default port") == "8080"
    assert strip_inline_comment("http://docs/#install") == "http://docs/#install"
    assert strip_inline_comment("a;b") == "a;b"


def test_key_splits_at_first_separator():
    (token,) = tokenize("dsn = postgres://u:p@db/app?sslmode=require")
    assert (token.name, token.value) == ("dsn", "postgres://u:p@db/app?sslmode=require")


def test_empty_value_is_allowed():
    assert list(tokenize("password =")) == [Token("assign", 1, name="password", value="")]


@pytest.mark.parametrize(
    "text, message",
    [("[]", "empty section name"), ("= value", "missing key"), ("just words", "expected 'key = value'"),
     ("   indented = 1", "unexpected indentation")],
    ids=["empty-section", "missing-key", "no-separator", "stray-indent"],
)
def test_errors_name_the_line(text, message):
    with pytest.raises(ParseError, match=f"line 1: {message}"):
        list(tokenize(text))
