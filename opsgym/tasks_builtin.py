"""Built-in plugin: registers every task folder of the shipped catalog (``envs/``)."""

from __future__ import annotations

from opsgym import plugins
from opsgym.errors import TaskSpecError
from opsgym.hookspecs import Register, hookimpl
from opsgym.tasks import catalog_folders


@hookimpl
def register_tasks(register: Register) -> None:
    """Each folder on its own: a broken task file is reported (file, line, reason) and the rest of the catalog loads."""
    for folder in catalog_folders():
        try:
            register(folder)
        except TaskSpecError as exc:
            plugins.report(f"task {folder.name} was not loaded: {exc}")
