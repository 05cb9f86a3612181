"""OpsEnv: one Gymnasium env for every opsgym task, SRE and SWE alike.

The env owns what all tasks share — Text spaces, the step budget, ``submit``/``hint``/``ask``/``escalate``/``help``,
turning bad input into an observation, timing, and the episode :class:`~opsgym.outcome.Outcome` — and hands domain
actions to the task's :class:`~opsgym.scenario.Scenario`. Reward is 0 until the end; at the end the unwrapped env gives
RemediationCorrect, and the :class:`~opsgym.scoring.wrapper.ScoringWrapper` that :func:`make_env` adds replaces it with
TaskEfficacy.
"""

from __future__ import annotations

import difflib
import inspect
import json
import string
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from opsgym import plugins, spaces  # opsgym.spaces.Text: gymnasium's Text, fixed for AsyncVectorEnv shared memory
from opsgym.agent_input import action_text, loads_strict, plain_text, type_name
from opsgym.domain import Domain, get_domain
from opsgym.errors import InfrastructureError, OpsGymError
from opsgym.interventions import ESCALATED, served_hints
from opsgym.llm.telemetry import Ledger
from opsgym.outcome import ActionRecord, Answer, Outcome, clip, text_sha256
from opsgym.scenario import ActionResult, Scenario, Tool
from opsgym.scoring.wrapper import ScoringWrapper
from opsgym.step_budget import EntryPointScoring
from opsgym.tasks import TaskSpec

__all__ = ["CHARSET", "MAX_ACTION_CHARS", "MAX_OBSERVATION_CHARS", "OpsEnv", "make_env"]

CHARSET = string.printable
MAX_ACTION_CHARS = 65_536
MAX_OBSERVATION_CHARS = 65_536
_CHARSET_SET = frozenset(CHARSET)

GENERIC_TOOLS: tuple[Tool, ...] = (
    Tool("submit", 'submit {"diagnosis": "...", "root_cause": "...", "remediation": "..."}',
         "end the episode with your answer (JSON object; SWE tasks may submit with no argument)"),
    Tool("hint", "hint", "get a hint (counts as a human intervention)"),
    Tool("ask", "ask QUESTION", "ask the on-call human a question (counts as a human intervention)"),
    Tool("escalate", "escalate [REASON]",
         "hand the incident to a human: ends the episode (counts as a human intervention)"),
    Tool("help", "help", "list the available actions"),
)


def _domain(task: TaskSpec) -> Domain:
    """The registered domain of a task: its scenario class, default backend and submit rule (no domain is named
    here; its scenario module is imported only when a task of that domain is made)."""
    return get_domain(task.domain)


def _sanitize(text: str, limit: int = MAX_OBSERVATION_CHARS) -> str:
    """Keep observations inside the observation space: printable ASCII, bounded length."""
    if not all(c in _CHARSET_SET for c in text):
        text = "".join(c if c in _CHARSET_SET else "?" for c in text)
    if len(text) > limit:
        note = f"\n[... output truncated: {len(text)} characters, showing the first {limit - 200} ...]\n"
        text = text[: limit - len(note)] + note
    return text


class OpsEnv(gym.Env[str, str]):
    """An IT-operations task as a Gymnasium env with text observations and text actions.

    Args:
        task: a registered task id (``"SRE-1"``), a suite id (``"SWE-Lite"``: each reset picks a task from the seed),
            or a :class:`TaskSpec`.
        backend: cluster backend for SRE tasks (``sim`` by default; ``kind``, ``kubeconfig``) or sandbox for SWE.
        perturbation: a registered perturbation name, several joined by ``+``, or a sequence of names.
        max_steps: the step budget (default: the task's ``max_steps``); running out truncates the episode.
        backend_options: keyword options for the backend factory.
        render_mode: ``"ansi"`` (render returns the last observation) or ``"human"`` (prints it).
    """

    metadata = {"render_modes": ["ansi", "human"]}

    def __init__(
        self,
        task: str | TaskSpec,
        *,
        backend: str | None = None,
        perturbation: str | Sequence[str] | None = None,
        max_steps: int | None = None,
        backend_options: dict[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        self.tasks = self._resolve_tasks(task)
        self.task = self.tasks[0]
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise OpsGymError(f"render_mode {render_mode!r} is not one of {self.metadata['render_modes']}")
        self.render_mode = render_mode
        self.backend_name = backend
        self.backend_options = dict(backend_options or {})
        self.perturbation_names = self._resolve_perturbations(perturbation)
        self._max_steps_override = max_steps
        self.observation_space = spaces.Text(max_length=MAX_OBSERVATION_CHARS, min_length=0, charset=CHARSET)
        self.action_space = spaces.Text(max_length=MAX_ACTION_CHARS, min_length=0, charset=CHARSET)
        self.ledger = Ledger()
        self._scenario: Scenario | None = None
        self._scenario_task: TaskSpec | None = None
        self._perturbations: list[Any] = []
        self._last_obs = ""
        self._done = True
        self._outcome: Outcome | None = None
        self._seed: int | None = None
        self._steps = 0
        self._interventions = 0
        self.variables: dict[str, Any] = {}

    # ----------------------------------------------------------------------------------------------- construction
    @staticmethod
    def _resolve_tasks(task: str | TaskSpec) -> list[TaskSpec]:
        if isinstance(task, TaskSpec):
            return [task]
        registry = plugins.entries("task")
        if task in registry:
            return [registry[task].factory]
        suite = [e.factory for e in registry.values() if task in e.factory.suites]
        if suite:
            return sorted(suite, key=lambda t: t.id)
        return [plugins.get("task", task).factory]  # raises UnknownNameError with suggestions

    @staticmethod
    def _resolve_perturbations(perturbation: str | Sequence[str] | None) -> list[str]:
        if perturbation is None or perturbation == "":
            return []
        names = perturbation.split("+") if isinstance(perturbation, str) else list(perturbation)
        names = [n.strip() for n in names if n.strip()]
        for name in names:
            plugins.get("perturbation", name)  # fail at construction, with suggestions
        return names

    def _ensure_scenario(self, task: TaskSpec) -> Scenario:
        if self._scenario is not None and self._scenario_task is task:
            return self._scenario
        if self._scenario is not None:
            self._scenario.close()
        domain = _domain(task)
        backend = self.backend_name or domain.default_backend
        scenario_cls = domain.scenario_class()
        self._perturbations = [plugins.create("perturbation", n) for n in self.perturbation_names]
        self._scenario = scenario_cls(task, backend=backend, backend_options=self.backend_options,
                                      perturbations=self._perturbations)
        self._scenario_task = task
        return self._scenario

    @property
    def _world(self) -> Scenario:
        """The current task's scenario; only used while an episode runs (``reset`` made it)."""
        if self._scenario is None:
            raise OpsGymError("the env has no scenario yet: call reset() first")
        return self._scenario

    @property
    def max_steps(self) -> int:
        return self._max_steps_override or self.task.max_steps

    @property
    def tools(self) -> tuple[Tool, ...]:
        domain = self._scenario.tools if self._scenario is not None else ()
        return (*domain, *GENERIC_TOOLS)

    # ------------------------------------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        episode_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        self.task = self.tasks[episode_seed % len(self.tasks)]
        scenario = self._ensure_scenario(self.task)
        for p in self._perturbations:
            p.reset(episode_seed)
        self.ledger.clear()
        self._seed = episode_seed
        self._steps = 0
        self._interventions = 0
        self._hints_given = 0
        self._escalated = False
        self._actions: list[ActionRecord] = []
        self._answer: Answer | None = None
        self._done = False
        self._outcome = None
        self._wall_start = time.perf_counter()
        alert, self.variables = scenario.reset(episode_seed)
        self._sim_start = scenario.now()
        obs = self._observe(self._intro(alert))
        return obs, self._info()

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done:
            obs = "The episode is over. Call reset() to start a new one."
            return obs, 0.0, self._outcome is not None and self._outcome.terminated, False, self._info(final=True)
        t0 = time.perf_counter()
        sim0 = self._world.now()
        text = plain_text(action)  # once, at the door: from here on only this exact str is looked at
        result = self._dispatch(action if text is None else text)
        self._steps += 1
        obs = self._observe(result.observation)
        self._record(action_text(action), result, obs, time.perf_counter() - t0, self._world.now() - sim0)
        terminated = result.ok and (result.cls == "submit" or (result.cls, result.verb) == ("intervention", "escalate"))
        truncated = not terminated and self._steps >= self.max_steps
        reward = 0.0
        if terminated or truncated:
            outcome = self._finish(terminated, truncated)
            reward = outcome.remediation_correct
        return obs, reward, terminated, truncated, self._info(final=terminated or truncated)

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._last_obs
        if self.render_mode == "human":
            print(self._last_obs)
        return None

    def close(self) -> None:
        if self._scenario is not None:
            self._scenario.close()
            self._scenario = None
        super().close()

    # ------------------------------------------------------------------------------------------ for privileged use
    def oracle_solution(self) -> list[str]:
        """The task's reference solution for this episode's seed (for the oracle agent and tests; never in obs)."""
        return [string.Template(a).safe_substitute(self.variables) for a in self.task.solution]

    @property
    def outcome(self) -> Outcome | None:
        """The last finished episode's outcome (also ``info["outcome"]`` at the end)."""
        return self._outcome

    # ------------------------------------------------------------------------------------------------ internals
    def _intro(self, alert: str) -> str:
        lines = [alert.rstrip(), "", "Available actions:"]
        lines += [f"  {t.usage:<48} {t.summary}" for t in self.tools]
        lines.append(f"You have {self.max_steps} steps.")
        return "\n".join(lines)

    def _observe(self, text: str) -> str:
        for p in self._perturbations:
            text = p.observation(text)
        self._last_obs = _sanitize(text)
        return self._last_obs

    def _invalid(self, reason: str, verb: str = "") -> ActionResult:
        return ActionResult(observation=f"Invalid action: {reason}", cls="invalid", verb=verb, ok=False,
                            error=reason, sim_cost_s=0.0)

    def _dispatch(self, action: Any) -> ActionResult:
        if type(action) is not str:  # step() made every text action an exact str; type() cannot be faked
            return self._invalid(f"actions are text; got {type_name(action)}")
        if len(action) > MAX_ACTION_CHARS:
            return self._invalid(f"action is {len(action)} characters long; the limit is {MAX_ACTION_CHARS}")
        bad = sorted({c for c in action if c not in _CHARSET_SET})
        if bad:
            shown = ", ".join(repr(c) for c in bad[:5])
            return self._invalid(f"action contains non-printable or non-ASCII characters ({shown}); send plain text")
        text = action.strip()
        if not text:
            return self._invalid("empty action. " + self._usage())
        verb = text.split(maxsplit=1)[0]
        rest = text[len(verb):].strip()
        generic = {"help": self._do_help, "submit": self._do_submit, "hint": self._do_hint, "ask": self._do_ask,
                   "escalate": self._do_escalate}
        try:
            if verb in generic:
                return generic[verb](rest)
            if any(verb == t.verb or verb in t.aliases for t in self._world.tools):
                return self._world.execute(text)
        except InfrastructureError:
            raise
        except Exception as exc:  # a scenario bug must not look like the agent's fault, nor crash step()
            return ActionResult(observation=f"Internal error while running {verb!r}: {type(exc).__name__}: {exc}",
                                cls="invalid", verb=verb, ok=False, error=f"internal: {exc!r}", sim_cost_s=0.0)
        close = difflib.get_close_matches(verb, [t.verb for t in self.tools], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        return self._invalid(f"unknown action {verb[:40]!r}.{hint} " + self._usage(), verb="")

    def _usage(self) -> str:
        return "Actions: " + "; ".join(t.usage for t in self.tools)

    def _do_help(self, rest: str) -> ActionResult:
        lines = [f"{t.usage:<48} {t.summary}" for t in self.tools]
        return ActionResult(observation="\n".join(lines), cls="read", verb="help", sim_cost_s=0.0)

    def _do_submit(self, rest: str) -> ActionResult:
        payload: Any = {}
        if rest:
            try:
                payload = loads_strict(rest)
            except json.JSONDecodeError as exc:
                return self._invalid(f"submit takes a JSON object: {exc.msg} at character {exc.pos}", "submit")
            except ValueError as exc:
                return self._invalid(f"submit takes a plain JSON object: {exc}", "submit")
        if not isinstance(payload, dict):
            return self._invalid(f"submit takes a JSON object, got {type(payload).__name__}", "submit")
        if _domain(self.task).submit_needs_answer and not payload:
            return self._invalid('submit needs {"diagnosis": ..., "root_cause": ..., "remediation": ...}', "submit")
        try:
            self._answer = Answer.model_validate(payload)
        except ValueError as exc:
            return self._invalid(f"submit: {exc}".splitlines()[0], "submit")
        self._world.observe_answer(self._answer)
        return ActionResult(observation="Answer submitted. The episode is over.", cls="submit", verb="submit",
                            sim_cost_s=0.0)

    def _intervene(self, verb: str, text: str) -> ActionResult:
        self._interventions += 1
        return ActionResult(observation=text, cls="intervention", verb=verb, sim_cost_s=60.0)

    def _next_hint(self) -> str:
        hints = served_hints(self.task, self.variables)
        if not hints:
            return "No hints are available for this task."
        hint = hints[min(self._hints_given, len(hints) - 1)]
        self._hints_given += 1
        return hint

    def _do_hint(self, rest: str) -> ActionResult:
        return self._intervene("hint", f"Hint: {self._next_hint()}")

    def _do_ask(self, rest: str) -> ActionResult:
        if not rest:
            return self._invalid("ask needs a question, e.g. `ask which service changed last?`", "ask")
        return self._intervene("ask", f"On-call engineer: I can't say for sure, but {self._next_hint()}")

    def _do_escalate(self, rest: str) -> ActionResult:
        """Hand the incident over: the episode ends here (step() terminates it) and is judged like a submit.

        The end state counts whatever the agent had fixed, and the reason is kept as its diagnosis, so the agent is
        credited with what it had established — but the human's fix is never shown: there is no step left to use it.
        """
        self._escalated = True
        self._answer = Answer(diagnosis=rest)
        self._world.observe_answer(self._answer)
        return self._intervene("escalate", ESCALATED)

    def _record(self, action: str, result: ActionResult, obs: str, wall: float, sim: float) -> None:
        self._actions.append(ActionRecord(
            index=len(self._actions), action=clip(action), verb=result.verb, cls=result.cls, ok=result.ok,
            error=result.error, targets=result.targets, flags=result.flags, observation=clip(obs),
            observation_sha256=text_sha256(obs), sim_time_s=sim, wall_time_s=wall,
            detail=result.detail,
        ))

    def _finish(self, terminated: bool, truncated: bool) -> Outcome:
        self._done = True
        evaluation = self._world.evaluate()
        gt = self.task.ground_truth.model_dump(mode="json")
        gt = json.loads(string.Template(json.dumps(gt)).safe_substitute(self.variables))
        self._outcome = Outcome(
            task_id=self.task.id, task_version=self.task.version, domain=self.task.domain, profile=self.task.profile,
            seed=self._seed, backend=self.backend_name or _domain(self.task).default_backend,
            perturbations=self.perturbation_names, variables=self.variables,
            submitted=self._answer is not None and not self._escalated, escalated=self._escalated,
            answer=self._answer, actions=self._actions, checks=evaluation.checks,
            remediation_correct=min(1.0, max(0.0, evaluation.remediation_correct)), ground_truth=gt,
            interventions=self._interventions, max_interventions=self.task.max_interventions, steps=self._steps,
            terminated=terminated, truncated=truncated, sim_time_s=self._world.now() - self._sim_start,
            wall_time_s=time.perf_counter() - self._wall_start, budgets=self.task.budgets.model_dump(),
            extra=evaluation.extra,
        )
        return self._outcome

    def _info(self, final: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = {"task_id": self.task.id, "seed": self._seed, "step": self._steps,
                                "interventions": self._interventions}
        if final and self._outcome is not None:
            info["outcome"] = self._outcome.model_dump(mode="json")
        return info


def make_env(task: str | TaskSpec, *, scoring: bool = True, **kwargs: Any) -> gym.Env:
    """The entry point behind ``gym.make("opsgym/<id>")``: an :class:`OpsEnv`, scored unless ``scoring=False``.

    Keywords that :class:`~opsgym.scoring.wrapper.ScoringWrapper` takes (``profile``, ``judge``, ``reward_metric``,
    ``weights``, ``price`` …) go to the wrapper — read from its signature, so the two cannot drift apart; everything
    else goes to :class:`OpsEnv`.
    """
    scoring_keys = set(inspect.signature(ScoringWrapper).parameters) - {"env"}
    scoring_kwargs = {k: kwargs.pop(k) for k in scoring_keys if k in kwargs}
    env: gym.Env = OpsEnv(task, **kwargs)
    if scoring:
        env = EntryPointScoring(env, **scoring_kwargs)
    elif scoring_kwargs:
        raise OpsGymError(f"{sorted(scoring_kwargs)} only apply with scoring=True")
    return env
