"""The CLI's output when it is piped or redirected (a CI log, ``opsgym bench > bench.txt``): wide tables stay whole."""

from __future__ import annotations

import os
import subprocess
import sys

WIDE_TABLE = """
from rich.table import Table
from opsgym.commands import console, err
table = Table()
for i in range(14):
    table.add_column(f"column {i}")
table.add_row(*(f"{1000 * i:,} tok/s" for i in range(14)))
console.print(table)
print(console.width, err.width)
"""


def run(env_extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env_extra
    done = subprocess.run([sys.executable, "-c", WIDE_TABLE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_piped_output_keeps_every_cell_of_a_wide_table():
    lines = run({})
    assert lines[-1] == "200 200"
    assert "…" not in "\n".join(lines) and "13,000 tok/s" in "\n".join(lines)


def test_columns_from_the_environment_still_win():
    lines = run({"COLUMNS": "90"})
    assert lines[-1] == "90 90" and "…" in "\n".join(lines)  # 14 columns do not fit in 90: Rich elides
