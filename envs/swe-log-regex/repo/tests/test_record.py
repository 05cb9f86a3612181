from datetime import datetime, timedelta, timezone

import pytest

from accesslog.record import AccessRecord, parse_request, parse_time, unescape


def test_unescape_decodes_server_escapes():
    assert unescape(r"a\x22b\x5Cc") == 'a"b\\c'
    assert unescape(r"say \"hi\" \\ bye\n") == 'say "hi" \\ bye\n'
    assert unescape("plain") == "plain"


def test_parse_time_keeps_the_offset():
    parsed = parse_time("10/Oct/2023:13:55:36 -0700")
    assert parsed == datetime(2023, 10, 10, 20, 55, 36, tzinfo=timezone.utc)
    assert parsed.utcoffset() == timedelta(hours=-7)


@pytest.mark.parametrize(
    "value", ["10/Okt/2023:13:55:36 -0700", "2023-10-10T13:55:36Z", ""], ids=["month-name", "iso-8601", "empty"]
)
def test_parse_time_rejects_other_formats(value):
    with pytest.raises(ValueError):
        parse_time(value)


def test_parse_request_splits_or_gives_up():
    assert parse_request("GET /index.html HTTP/1.1") == ("GET", "/index.html", "HTTP/1.1")
    assert parse_request("\x16\x03\x01\x00") == (None, None, None)
    assert parse_request("-") == (None, None, None)


def test_status_class():
    record = AccessRecord("::1", None, parse_time("01/Jan/2024:00:00:00 +0000"), "-", None, None, None, 404, 0)
    assert record.status_class == "4xx"
