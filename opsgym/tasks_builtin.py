"""Built-in plugin: registers every task folder of the shipped catalog (``envs/``)."""

from __future__ import annotations

from opsgym.hookspecs import hookimpl
from opsgym.tasks import catalog_folders


@hookimpl
def register_tasks(register):
    for folder in catalog_folders():
        register(folder)
