"""The CLI is assembled without an import cycle: every command module imports on its own, and none imports back
``opsgym.cli`` (which imports them)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import REPO, run_python

COMMAND_MODULES = sorted(f"opsgym.commands.{p.stem}" for p in (REPO / "opsgym" / "commands").glob("*.py")
                         if p.stem != "__init__")


@pytest.mark.parametrize("module", [*COMMAND_MODULES, "opsgym.cli"])
def test_each_cli_module_imports_first_in_a_fresh_interpreter(module):
    proc = run_python(f"import sys, {module}\nprint('opsgym.cli' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == str(module == "opsgym.cli")  # a command module does not pull in opsgym.cli


@pytest.mark.parametrize("path", sorted((REPO / "opsgym" / "commands").glob("*.py")), ids=lambda p: p.name)
def test_no_command_module_imports_opsgym_cli(path):
    tree = ast.parse(path.read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "opsgym.cli" not in imported


def test_python_dash_m_opsgym_cli_lists_the_commands():
    proc = subprocess.run([sys.executable, "-m", "opsgym.cli", "--help"], capture_output=True, text=True,
                          cwd=REPO, timeout=120, env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    for command in ("list", "run", "report", "bench", "cluster"):
        assert f" {command} " in proc.stdout
