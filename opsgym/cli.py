"""The ``opsgym`` command line (typer + rich).

This module only assembles the app: each command lives in a module of :mod:`opsgym.commands` that adds itself to
:data:`app`, so commands stay beside the code they drive and this file stays a table of contents.
"""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    name="opsgym",
    help="IT-operations tasks as Gymnasium environments, scored on unified metrics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)



def _version(value: bool) -> None:
    if value:
        from opsgym import __version__

        typer.echo(f"opsgym {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """IT-operations tasks as Gymnasium environments, scored on unified metrics."""


# Each command module registers its commands on `app` when imported.
from opsgym.commands import cluster, core, llm, run  # noqa: E402,F401

if __name__ == "__main__":  # pragma: no cover
    app()
