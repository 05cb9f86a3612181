import pytest


class FixedRandom:
    """Stands in for random.Random: uniform(a, b) always returns the point `position` of the way from a to b."""

    def __init__(self, position: float) -> None:
        self.position = position

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.position


class VirtualTime:
    """A clock that only moves when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fixed_random():
    return FixedRandom


@pytest.fixture
def vtime():
    return VirtualTime()


class Flaky:
    """A callable that raises the given errors in turn, then returns `result`."""

    def __init__(self, *errors: BaseException, result: object = "ok") -> None:
        self.errors = list(errors)
        self.result = result
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.result


@pytest.fixture
def flaky():
    return Flaky
