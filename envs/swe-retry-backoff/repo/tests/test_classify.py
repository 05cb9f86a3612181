from datetime import datetime, timezone

import pytest

from retrykit.classify import HTTPStatusError, is_retryable, parse_retry_after


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_try_again_later_statuses_are_retryable(status):
    assert is_retryable(HTTPStatusError(status))


@pytest.mark.parametrize("status", [400, 401, 404, 409, 501])
def test_client_errors_are_not_retryable(status):
    assert not is_retryable(HTTPStatusError(status))


def test_transport_errors_are_retryable_but_bugs_are_not():
    assert is_retryable(ConnectionResetError())
    assert is_retryable(TimeoutError())
    assert not is_retryable(KeyError("token"))


def test_parse_retry_after_seconds_and_http_date():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
