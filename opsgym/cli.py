"""The ``opsgym`` command line (typer + rich): ``opsgym list | doctor | run | report | compare | export | replay |
bench | cluster up | task check | task catalog``.

This module only assembles the app: :data:`app` is made in :mod:`opsgym.commands.app`, and each command module
adds its commands to it when imported — here, so this file is the table of contents and no module imports it back.
"""

from __future__ import annotations

from opsgym.commands import cluster, core, llm, run, task  # noqa: F401  (each adds its commands to `app` on import)
from opsgym.commands.app import app

__all__ = ["app"]

if __name__ == "__main__":  # pragma: no cover
    app()
