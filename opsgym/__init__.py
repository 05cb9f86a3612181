"""opsgym: IT-operations tasks as Gymnasium environments, scored on the seed paper's unified metrics.

Importing opsgym loads its plugins and registers every task as a Gymnasium id::

    import gymnasium as gym
    import opsgym                      # or gym.make("opsgym:opsgym/SRE-1"), or gym.register_envs(opsgym)
    env = gym.make("opsgym/SRE-1")
"""

from __future__ import annotations

from opsgym.hookspecs import hookimpl
from opsgym.plugins import load_plugins
from opsgym.tasks import register_gym_ids

__all__ = ["__version__", "hookimpl"]
__version__ = "0.1.0"

load_plugins()
register_gym_ids()
