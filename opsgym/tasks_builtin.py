"""Built-in plugin: registers every task folder of the shipped catalog (``envs/``)."""

from __future__ import annotations

from opsgym.hookspecs import Register, hookimpl
from opsgym.tasks import catalog_folders


@hookimpl
def register_tasks(register: Register) -> None:
    for folder in catalog_folders():
        register(folder)
