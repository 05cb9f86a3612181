import math

import pytest

from hostinv.client import Response


class FakeInventory:
    """In-memory stand-in for the inventory server; records every request."""

    def __init__(self, total: int) -> None:
        self.hosts = [{"id": i, "name": f"host-{i:03d}"} for i in range(1, total + 1)]
        self.requests: list[dict] = []
        self.fail_with: int | None = None

    def get(self, path, params):
        self.requests.append(dict(params))
        if self.fail_with is not None:
            return Response(self.fail_with, {"error": "backend unavailable"})
        page, per_page = int(params["page"]), int(params["per_page"])
        last = max(1, math.ceil(len(self.hosts) / per_page))
        if not 1 <= page <= last:
            return Response(404, {"error": "no such page"})
        start = (page - 1) * per_page
        return Response(200, {"items": self.hosts[start:start + per_page], "total": len(self.hosts)})


@pytest.fixture
def inventory():
    return FakeInventory
