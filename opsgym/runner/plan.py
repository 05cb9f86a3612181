"""Planning a run: the matrix (envs × agents × LLM configs × perturbations × seeds × repeats) as a list of episodes.

Everything a user can misspell is resolved here, before any episode starts: env ids and globs (``opsgym/SRE-*``),
suites (``opsgym/SWE-Lite``), the ``--backend`` of each env's domain, env options, agent names and their options, LLM
backend names and their options, perturbation names. A mistake fails with :class:`~opsgym.errors.UnknownNameError` or
:class:`~opsgym.errors.RunConfigError` and suggestions instead of surfacing in episode 37 of 200. Options are bound
against the signature of what receives them; one that takes ``**kwargs`` accepts anything, so nothing is guessed there.
Each planned episode gets a stable key (a hash of what defines it), which is what ``--resume`` matches on.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import importlib
import inspect
import itertools
import json
import time
import uuid
from typing import Any

import yaml
from pydantic import BaseModel, Field

from opsgym import plugins
from opsgym.domain import Domain, get_domain
from opsgym.errors import RunConfigError, UnknownNameError
from opsgym.llm.base import parse_spec
from opsgym.record import RunSpec

__all__ = [
    "AgentSpec",
    "RunPlan",
    "accepts_llm",
    "check_execution",
    "episode_key",
    "parse_agent",
    "parse_seeds",
    "resolve_env_ids",
]

_GLOB_CHARS = set("*?[")


class AgentSpec(BaseModel):
    """An agent name and its options (``--agent random:max_words=6``)."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)


def parse_agent(text: str) -> AgentSpec:
    """Parse ``NAME`` or ``NAME:key=value,key=value`` (values are YAML scalars: ``0.2``, ``true``, ``abc``)."""
    name, _, options = text.partition(":")
    config: dict[str, Any] = {}
    for item in filter(None, (o.strip() for o in options.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise RunConfigError(f"agent option {item!r} in {text!r} is not key=value; write e.g. 'random:max_words=6'")
        config[key.strip()] = yaml.safe_load(value) if value.strip() else ""
    return AgentSpec(name=name.strip(), config=config)


def parse_seeds(text: str) -> list[int]:
    """Parse ``0-9``, ``0,3,7`` or a mix (``0-4,10``) into a sorted list of distinct non-negative seeds."""
    seeds: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, dash, hi = part.partition("-")
        try:
            first, last = int(lo), int(hi if dash else lo)
        except ValueError:
            first, last = 0, -1
        if first < 0 or last < first:
            raise RunConfigError(f"bad seed list {text!r}: write non-negative seeds like '0-9', '0,3,7' or '0-4,10'")
        seeds.update(range(first, last + 1))
    if not seeds:
        raise RunConfigError(f"seed list {text!r} names no seeds")
    return sorted(seeds)


def accepts_llm(factory: Any) -> bool:
    """Whether an agent factory takes an ``llm`` (only such agents are multiplied across ``--llm`` configs)."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return "llm" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _signature(factory: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(factory)
    except (TypeError, ValueError):
        return None  # a builtin or C callable: nothing to bind against


def _refuse_unknown_options(owner: str, signature: inspect.Signature | None, options: dict[str, Any],
                            args: tuple[Any, ...] = ()) -> None:
    """Fail unless a call with ``*args, **options`` binds to ``signature``, naming close matches of each bad key."""
    if signature is None:
        return
    try:
        signature.bind_partial(*args, **options)
    except TypeError as exc:
        known = [n for n, p in signature.parameters.items()
                 if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
        close = [m for key in options if key not in known for m in difflib.get_close_matches(key, known, n=1)]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise RunConfigError(f"{owner} does not take these options: {exc}.{hint} "
                             f"Its options: {', '.join(known) or '(none)'}") from None


def _opsgym_suites() -> dict[str, list[str]]:
    """Suite name → its task names (a name that is also a task's id is that task, as in the gym registry)."""
    tasks = plugins.entries("task")
    suites: dict[str, list[str]] = {}
    for name, entry in tasks.items():
        for suite in getattr(entry.factory, "suites", []):
            if suite not in tasks:
                suites.setdefault(suite, []).append(name)
    return suites


def _domains(task_or_suite: str) -> list[Domain]:
    """The registered domains of a task or suite's tasks (each names the registry its backends live in)."""
    tasks = plugins.entries("task")
    names = [task_or_suite] if task_or_suite in tasks else _opsgym_suites().get(task_or_suite, [])
    return [get_domain(d) for d in sorted({tasks[n].factory.domain for n in names})]


def reads_terminal(agent: AgentSpec) -> bool:
    """Whether the agent reads this process's terminal (its factory says ``reads_terminal = True``, as the human
    agent does): then only one episode runs at a time, in this process."""
    return bool(getattr(plugins.get("agent", agent.name).factory, "reads_terminal", False))


def check_execution(plan: RunPlan, executor: str, parallel: int | None) -> None:
    """Refuse what cannot run concurrently before a run starts — for ``opsgym run`` and the Python API alike.

    ``parallel`` is the process executor's worker count (``None``: the executor decides, as Ray does); any executor
    but ``process`` runs episodes elsewhere, so it counts as concurrent too.
    """
    concurrent = executor != "process" or (parallel or 1) > 1
    if not concurrent:
        return
    for agent in plan.agents:
        if reads_terminal(agent):
            raise RunConfigError(f"the {agent.name} agent reads this terminal: run it with --parallel 1")
    backend = plan.env_kwargs.get("backend")
    entry = plugins.entries("cluster backend").get(str(backend))
    if entry is not None and getattr(entry.factory, "shared_cluster", False):  # see opsgym.cluster.builtin
        raise RunConfigError(f"--backend {backend} runs every episode on one real cluster: run it with --parallel 1 "
                             "(parallel workers would tear down each other's namespace)")


def _env_signature(env_id: str) -> tuple[Any, inspect.Signature | None, dict[str, Any]]:
    """An env's creator, the signature its keywords bind to, and the keywords its registration adds."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    from opsgym.env import OpsEnv, make_env
    from opsgym.scoring.wrapper import ScoringWrapper

    spec = gym.spec(env_id.rpartition(":")[2])  # resolve_env_ids imported a module: prefix already
    creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    if creator is not make_env:
        return creator, _signature(creator), dict(spec.kwargs)
    # make_env hands each keyword ScoringWrapper takes to the wrapper and every other one to OpsEnv: theirs count
    params = {name: inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY)
              for part in (make_env, OpsEnv, ScoringWrapper) for name, p in inspect.signature(part).parameters.items()
              if name != "env" and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)}
    return creator, inspect.Signature(list(params.values())), dict(spec.kwargs)


def resolve_env_ids(patterns: list[str]) -> list[str]:
    """Expand ids, globs and suites into registered Gymnasium ids, in the order given, without duplicates.

    ``module:id`` imports ``module`` first (Gymnasium's own convention), so third-party envs can be run too.
    """
    import gymnasium as gym

    import opsgym  # noqa: F401  (registers opsgym/* ids)

    resolved: list[str] = []
    for pattern in patterns:
        module, sep, env_pattern = pattern.partition(":")
        if sep and "/" not in module:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise RunConfigError(f"--env {pattern!r}: cannot import module {module!r}: {exc}") from None
            prefix = module + ":"
        else:
            env_pattern, prefix = pattern, ""
        namespace = env_pattern.split("/", 1)[0] if "/" in env_pattern else None
        known = sorted(i for i in gym.registry if namespace is None or i.startswith(namespace + "/"))
        if _GLOB_CHARS & set(env_pattern):  # a suite replays tasks a glob already names: name a suite explicitly
            suite_ids = {f"opsgym/{suite}" for suite in _opsgym_suites()}
            matches = [m for m in fnmatch.filter(known, env_pattern) if m not in suite_ids]
            if not matches:
                raise UnknownNameError("env", env_pattern, known)
        elif env_pattern in gym.registry:
            matches = [env_pattern]
        elif namespace == "opsgym" and env_pattern.split("/", 1)[1] in _opsgym_suites():
            matches = [f"opsgym/{t}" for t in sorted(_opsgym_suites()[env_pattern.split("/", 1)[1]])]
        else:
            raise UnknownNameError("env", env_pattern, known + [f"opsgym/{s}" for s in _opsgym_suites()])
        resolved += [prefix + m for m in matches if prefix + m not in resolved]
    return resolved


def episode_key(**fields: Any) -> str:
    """A stable 16-hex-digit id of what defines an episode (same inputs → same key, across processes)."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


class RunPlan(BaseModel):
    """A run's matrix, stored as ``run.json`` so ``--resume`` replans exactly the same episodes."""

    run_id: str = Field(default_factory=lambda: time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6])
    envs: list[str]
    seeds: list[int]
    repeats: int = Field(1, ge=1)
    perturbations: list[str | None] = Field(default_factory=lambda: list[str | None]([None]))
    agents: list[AgentSpec]
    llms: list[str] = Field(default_factory=list)
    llm_config: dict[str, Any] = Field(default_factory=dict)
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    env_ids: list[str] = Field(default_factory=list, description="what envs resolved to when the run started")
    planned: int = Field(0, description="number of planned episodes, for readers that do not replan")

    def matrix(self) -> dict[str, Any]:
        """The fields that decide which episodes exist (compared on ``--resume``)."""
        return self.model_dump(exclude={"run_id", "created_at", "env_ids", "planned"})

    def validate_names(self) -> list[str]:
        """Check every name and option against the registries and signatures; return the resolved env ids."""
        env_ids = resolve_env_ids(self.envs)
        for pert in filter(None, self.perturbations):
            for name in pert.split("+"):
                plugins.get("perturbation", name.strip())
        for env_id in env_ids:
            self._check_env(env_id)
        for llm in self.llms:
            try:
                name, target, options = parse_spec(llm)
            except ValueError as exc:
                raise RunConfigError(f"--llm {llm!r}: {exc}") from None
            factory = plugins.get("llm backend", name).factory
            _refuse_unknown_options(f"LLM backend {name!r}", _signature(factory), options | self.llm_config,
                                    (target,))
        factories = {agent.name: plugins.get("agent", agent.name).factory for agent in self.agents}
        for agent in self.agents:
            with_llm = bool(self.llms) and accepts_llm(factories[agent.name])
            _refuse_unknown_options(f"agent {agent.name!r}", _signature(factories[agent.name]),
                                    dict(agent.config, **({"llm": None} if with_llm else {})))
        if self.llms and not any(accepts_llm(f) for f in factories.values()):
            raise RunConfigError(f"--llm was given but none of the agents ({', '.join(factories)}) takes an LLM; "
                              "add an LLM agent, e.g. --agent react")
        return env_ids

    def _check_env(self, env_id: str) -> None:
        """The env options (``--env-option``, ``--backend``, ``--max-steps``, a perturbation) bind to the env's
        creator as ``gym.make`` will call it, and ``--backend`` names a backend of each of its tasks' domains."""
        import gymnasium as gym

        from opsgym.env import make_env

        creator, signature, registered = _env_signature(env_id)
        make_own = set(inspect.signature(gym.make).parameters) - {"id", "kwargs"}  # consumed by gym.make itself
        options = {k: v for k, v in (registered | self.env_kwargs).items() if k not in make_own}
        if any(self.perturbations):
            options["perturbation"] = next(p for p in self.perturbations if p)
        _refuse_unknown_options(f"env {env_id!r}", signature, options)
        backend = self.env_kwargs.get("backend")
        if creator is make_env and backend is not None:
            for domain in _domains(str(registered.get("task", ""))):
                kind = domain.backend_kind or "backend"
                names = list(plugins.entries(kind)) if domain.backend_kind else [domain.default_backend]
                if backend not in names:
                    raise UnknownNameError(f"{domain.name.upper()} {kind}", str(backend), names)

    def episodes(self, env_ids: list[str] | None = None) -> list[RunSpec]:
        """Every planned episode, in a stable order (env, agent, llm, perturbation, seed, repeat)."""
        env_ids = env_ids if env_ids is not None else self.validate_names()
        tasks = plugins.entries("task")
        cells = [(agent, llm) for agent in self.agents
                 for llm in (self.llms if self.llms and accepts_llm(plugins.get("agent", agent.name).factory)
                             else [None])]
        specs: dict[str, RunSpec] = {}
        for env_id, (agent, llm), pert, seed, repeat in itertools.product(
                env_ids, cells, self.perturbations, self.seeds, range(self.repeats)):
            # a suite's env picks its task per seed: the record learns the task from the outcome
            name = env_id.rpartition("/")[2] if env_id.split(":")[-1].startswith("opsgym/") else ""
            task_id = name if name in tasks else ""
            identity: dict[str, Any] = {
                "env_id": env_id, "seed": seed, "repeat": repeat, "perturbation": pert, "agent": agent.name,
                "agent_config": agent.config, "llm": llm, "llm_config": self.llm_config if llm else {},
                "env_kwargs": self.env_kwargs}
            key = episode_key(**identity)
            task = tasks.get(task_id)
            specs.setdefault(key, RunSpec(run_id=self.run_id, episode_key=key, task_id=task_id,
                                          task_version=task.factory.version if task else "", **identity))
        return list(specs.values())
