"""CLI command modules; each adds its commands to :data:`opsgym.commands.app.app` when imported by opsgym.cli.

They share two consoles: :data:`console` for results (stdout) and :data:`err` for progress and errors (stderr).
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPED_WIDTH = 200
"""Columns for output that is not a terminal (``opsgym bench > bench.txt``, a CI log): Rich would otherwise assume
80 and elide every cell of a wide table. ``COLUMNS`` still wins."""


def _console(stream: object, stderr: bool) -> Console:
    piped = not getattr(stream, "isatty", lambda: False)() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=PIPED_WIDTH if piped else None)


console = _console(sys.stdout, stderr=False)
err = _console(sys.stderr, stderr=True)
