"""Built-in plugin: the perturbation generators opsgym ships.

==================  =====================================================================================
``schema-change``   renames log and metric fields (``level`` → ``severity``, ``msg`` → ``message`` …)
``reorder-fields``  reorders the fields of log lines, metric labels and JSON documents
``rename-labels``   renames Kubernetes label keys consistently in the scenario (``app`` → ``k8s-app`` …)
``log-format``      switches the services' ``LOG_FORMAT`` (plain → json or logfmt) and converts log lines
``unit-change``     ms ↔ s and bytes ↔ MiB/KiB in log fields and metric samples
``noise``           adds benign warnings to logs and events
==================  =====================================================================================

Each is seeded and deterministic, changes presentation and never the ground truth; several compose with ``+``
(``gym.make(id, perturbation="reorder-fields+noise")``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsgym.hookspecs import hookimpl
from opsgym.perturb.generators import Noise, ReorderFields, SchemaChange, UnitChange
from opsgym.perturb.manifests import LogFormat, RenameLabels

BUILTIN = {cls.name: cls for cls in (SchemaChange, ReorderFields, RenameLabels, LogFormat, UnitChange, Noise)}
"""Name → class of every built-in perturbation."""


@hookimpl
def register_perturbations(register: Callable[[str, Any], None]) -> None:
    for name, cls in BUILTIN.items():
        register(name, cls)
