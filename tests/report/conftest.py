"""Report tests build real runs with the runner's test-double env (tests/runner/opsgym_doubles.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

RUNNER_TESTS = Path(__file__).resolve().parent.parent / "runner"
if str(RUNNER_TESTS) not in sys.path:
    sys.path.insert(0, str(RUNNER_TESTS))

from report_runs import make_run  # noqa: E402


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("report") / "run")
