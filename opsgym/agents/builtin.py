"""Built-in plugin: the agents opsgym ships."""

from __future__ import annotations

from opsgym.agents.react import ReActAgent
from opsgym.agents.scripted import HumanAgent, OracleAgent, RandomAgent
from opsgym.hookspecs import Register, hookimpl


@hookimpl
def register_agents(register: Register) -> None:
    register("oracle", OracleAgent)
    register("random", RandomAgent)
    register("human", HumanAgent)
    register("react", ReActAgent)
