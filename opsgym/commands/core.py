"""``opsgym list``: what is registered, and which package gave it."""

from __future__ import annotations

from rich.table import Table

from opsgym import plugins
from opsgym.commands import console
from opsgym.commands.app import app


@app.command("list")
def list_command() -> None:
    """List envs, agents, LLM backends, cluster and sandbox backends, perturbations and domains, with the plugin that
    gave each."""
    import opsgym  # noqa: F401  (registers gym ids)

    for kind in ("task", "agent", "llm backend", "cluster backend", "sandbox backend", "perturbation", "domain"):
        table = Table(title=f"{kind}s", title_justify="left")
        table.add_column("name" if kind != "task" else "env id")
        table.add_column("plugin")
        table.add_column("package")
        for name, entry in sorted(plugins.entries(kind).items()):
            table.add_row(f"opsgym/{name}" if kind == "task" else name, entry.plugin, entry.package)
        console.print(table)
    for error in plugins.PLUGIN_ERRORS:
        console.print(f"[red]plugin error:[/red] {error}")


@app.command()
def doctor() -> None:
    """Show which backends and tools this machine has, and what each unlocks."""
    from opsgym.doctor import run_checks

    table = Table(title="opsgym doctor", title_justify="left")
    for column in ("", "capability", "found", "unlocks"):
        table.add_column(column)
    for check in run_checks():
        table.add_row("[green]ok[/green]" if check.ok else "[yellow]--[/yellow]", check.name, check.detail,
                      check.unlocks)
    console.print(table)
