import pytest

from tinyini import ParseError, load, loads

SERVICE = """
; checkout service
[server]
host = 0.0.0.0
port = 8080          # overridden in prod
debug = no
banner = "  Welcome  "
docs = https://wiki.internal/checkout#runbook

[Upstreams]
backends =
    10.0.0.1:9000
    10.0.0.2:9000
timeout: 2.5
"""


def test_sections_and_values():
    config = loads(SERVICE)
    assert config.sections() == ["server", "upstreams"]
    assert config.get("server", "host") == "0.0.0.0"
    assert config.getint("server", "port") == 8080
    assert config.getbool("server", "debug") is False
    assert config.get("server", "banner") == "  Welcome  "
    assert config.get("server", "docs") == "https://wiki.internal/checkout#runbook"


def test_names_are_case_insensitive():
    config = loads(SERVICE)
    assert "UPSTREAMS" in config
    assert config.get("upstreams", "TIMEOUT") == "2.5"


def test_multiline_value_becomes_a_list():
    config = loads(SERVICE)
    assert config.getlist("upstreams", "backends") == ["10.0.0.1:9000", "10.0.0.2:9000"]


def test_defaults_and_missing_keys():
    config = loads(SERVICE)
    assert config.getint("server", "workers", default=4) == 4
    with pytest.raises(KeyError, match="workers"):
        config.get("server", "workers")
    with pytest.raises(KeyError, match="no section"):
        config.get("cache", "size")


def test_bad_typed_value_names_section_and_key():
    with pytest.raises(ValueError, match=r"\[server\] host"):
        loads(SERVICE).getint("server", "host")


@pytest.mark.parametrize(
    "text, message",
    [
        ("key = 1", "line 1: assignment before the first"),
        ("[a]\nx = 1\nX = 2", "line 3: duplicate key"),
        ("[a]\n[A]", "line 2: duplicate section"),
        ('[a]\nx = "unterminated', "line 2: unterminated quoted string"),
        ('[a]\nx = "one"\n  two', "line 3: quoted values cannot continue"),
    ],
    ids=["no-section", "duplicate-key", "duplicate-section", "unterminated-quote", "quoted-continuation"],
)
def test_parse_errors(text, message):
    with pytest.raises(ParseError, match=message):
        loads(text)


def test_load_reads_utf8_file(tmp_path):
    path = tmp_path / "app.ini"
    path.write_text("[i18n]\ngreeting = grüß dich\n", encoding="utf-8")
    assert load(path).get("i18n", "greeting") == "grüß dich"
