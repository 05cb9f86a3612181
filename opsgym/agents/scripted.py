"""Agents that need no model: ``oracle`` (plays the task's solution), ``random`` (a floor), ``human`` (stdin)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["HumanAgent", "OracleAgent", "RandomAgent"]


class OracleAgent:
    """Plays the task's reference solution for the episode's seed, then submits the ground truth.

    It proves a task is solvable through the agent-facing actions (not a back door): every step goes through
    ``env.step`` like any agent's.
    """

    def reset(self, *, seed: int | None = None, env: gym.Env[Any, Any] | None = None) -> None:
        if env is None:
            raise ValueError("the oracle agent needs the env: reset(env=env)")
        opsenv: Any = env.unwrapped  # privileged: an OpsEnv (or a double) that knows the task's solution
        self._plan = list(opsenv.oracle_solution())

    def act(self, observation: str, info: dict[str, Any]) -> str:
        return self._plan.pop(0) if self._plan else 'submit {"diagnosis": "", "root_cause": "", "remediation": ""}'


class RandomAgent:
    """Samples plausible-looking actions from the env's tool list with random arguments: the floor to beat."""

    WORDS = ("pods", "deploy", "svc", "cm", "events", "logs", "-n", "default", "app", "restart", "x", "1", "--all")

    def __init__(self, max_words: int = 4) -> None:
        self.max_words = max_words
        self._rng = np.random.default_rng()
        self._verbs: list[str] = ["help"]

    def reset(self, *, seed: int | None = None, env: gym.Env[Any, Any] | None = None) -> None:
        self._rng = np.random.default_rng(seed)
        if env is not None:
            opsenv: Any = env.unwrapped  # its tool list: an OpsEnv's (or a double's) ``tools``
            self._verbs = [t.verb for t in opsenv.tools]

    def act(self, observation: str, info: dict[str, Any]) -> str:
        verb = str(self._rng.choice(self._verbs))
        if verb == "submit":
            words = map(str, self._rng.choice(self.WORDS, size=3))
            return "submit " + json.dumps(dict(zip(("diagnosis", "root_cause", "remediation"), words, strict=True)))
        n = int(self._rng.integers(0, self.max_words + 1))
        return " ".join([verb, *map(str, self._rng.choice(self.WORDS, size=n))])


class HumanAgent:
    """A person at a terminal: prints each observation and reads the next action from stdin."""

    reads_terminal = True
    """Runs refuse to overlap its episodes (``opsgym.runner.plan.check_execution``) and show no live progress bar."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout

    def reset(self, *, seed: int | None = None, env: gym.Env[Any, Any] | None = None) -> None:
        pass

    def act(self, observation: str, info: dict[str, Any]) -> str:
        self._out.write(f"\n{observation}\n\nopsgym> ")
        self._out.flush()
        line = self._in.readline()
        if not line:  # EOF: end the episode politely rather than spin
            return 'submit {"diagnosis": "", "root_cause": "", "remediation": "(no input)"}'
        return line.rstrip("\n")
