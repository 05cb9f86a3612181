"""opsgym: IT-operations tasks as Gymnasium environments, scored on the seed paper's unified metrics.

Importing opsgym loads its plugins and registers every task as a Gymnasium id::

    import gymnasium as gym
    import opsgym                      # or gym.make("opsgym:opsgym/SRE-1"), or gym.register_envs(opsgym)
    env = gym.make("opsgym/SRE-1")

The contracts a plugin or an agent author needs (``opsgym.Agent``, ``opsgym.hookimpl`` …) are imported on first
attribute access, so that ``import opsgym`` costs no more than registering the ids. A plugin module may import opsgym
at its top: it is registered at the first registry use after its own import has finished.
"""

from __future__ import annotations

import importlib
from typing import Any

from opsgym.tasks import register_gym_ids

__all__ = [
    "Agent",
    "ClusterBackend",
    "Domain",
    "LLMBackend",
    "Perturbation",
    "Scenario",
    "TaskSpec",
    "__version__",
    "hookimpl",
]
__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Agent": "opsgym.agents.base",
    "ClusterBackend": "opsgym.cluster.base",
    "Domain": "opsgym.domain",
    "LLMBackend": "opsgym.llm.base",
    "Perturbation": "opsgym.perturb.base",
    "Scenario": "opsgym.scenario",
    "TaskSpec": "opsgym.tasks",
    "hookimpl": "opsgym.hookspecs",
}
"""Public name → the module that defines it."""


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'opsgym' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


register_gym_ids()
