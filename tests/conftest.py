"""Fixtures shared by every test area."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pip_install_target(package: Path, target: Path) -> Path:
    """Really install ``package`` (build + entry points) into ``target``, as a user's pip would, minus its deps."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target",
         str(target), str(package)],
        check=True, capture_output=True, text=True,
    )
    return target


def run_python(code: str, *, extra_path: Path | None = None, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (plugins load once per process, so plugin tests need their own)."""
    full_env = {**os.environ, **(env or {})}
    if extra_path is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), full_env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          cwd=cwd or REPO, timeout=300)


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """plugins/opsgym-example installed into a fresh target folder (put it on PYTHONPATH to activate it)."""
    return pip_install_target(REPO / "plugins" / "opsgym-example", tmp_path_factory.mktemp("example-plugin"))


@pytest.fixture(scope="session")
def broken_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fixture package with one plugin that fails to import, one that re-registers 'oracle', one that works."""
    return pip_install_target(REPO / "tests" / "fixtures" / "broken-plugin", tmp_path_factory.mktemp("broken"))
