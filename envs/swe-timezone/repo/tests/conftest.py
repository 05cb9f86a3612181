from datetime import datetime, timezone

import pytest


@pytest.fixture
def utc():
    """Build an aware UTC datetime: utc(2024, 1, 7, 1, 30)."""

    def build(*fields):
        return datetime(*fields, tzinfo=timezone.utc)

    return build
