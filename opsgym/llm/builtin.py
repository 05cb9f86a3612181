"""Built-in plugin: the LLM backends opsgym ships (factories import their heavy stacks only when called)."""

from __future__ import annotations

from opsgym.hookspecs import hookimpl


@hookimpl
def register_llm_backends(register):
    pass
