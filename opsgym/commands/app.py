"""The Typer app that every command module adds its commands to.

It lives in this leaf module, not in :mod:`opsgym.cli`, so that the imports run one way only: ``opsgym.cli``
imports the command modules, each command module imports this one, and nothing imports back its importer. That
also makes ``python -m opsgym.cli`` show every command (with the app in ``__main__``, the commands registered on a
second copy of ``opsgym.cli`` and the app that ran had none).
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
