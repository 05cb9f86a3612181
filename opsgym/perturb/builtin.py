"""Built-in plugin: the perturbation generators opsgym ships."""

from __future__ import annotations

from opsgym.hookspecs import hookimpl


@hookimpl
def register_perturbations(register):
    pass
