"""Every extension point of opsgym, in one file: the page a plugin author reads.

A plugin is a module with ``@hookimpl`` functions, made known through the ``opsgym`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.opsgym]
    my_plugin = "my_package.opsgym_plugin"

    # my_package/opsgym_plugin.py
    from opsgym import hookimpl

    @hookimpl
    def register_agents(register):
        register("my-agent", MyAgent)          # a class or any callable returning an Agent

Each hook receives a ``register(name, factory)`` callable (``register(path_or_spec)`` for tasks, ``register(domain)``
for domains). Names must be
unique across plugins; a duplicate, a hook that raises, a module that fails to import or defines no ``@hookimpl`` is
reported with the plugin's name in ``opsgym.plugins.PLUGIN_ERRORS`` and the other plugins still load. A plugin module
may import opsgym at its top and be imported before opsgym: it is registered at the first registry use after its own
import finished (``opsgym.plugins.load_plugins()``, ``opsgym list``, making an env). Keep plugin modules cheap to
import: do heavy imports inside the factory, which runs only when used. opsgym's built-ins register through these same
hooks.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("opsgym")
hookimpl = pluggy.HookimplMarker("opsgym")

Register = Callable[..., None]


@hookspec
def register_agents(register: Register) -> None:
    """Register agents: ``register(name, factory)``.

    ``factory(**config)`` returns an object with ``reset(*, seed=None, env=None)`` and
    ``act(observation, info) -> str`` (see :class:`opsgym.agents.base.Agent`).
    """


@hookspec
def register_llm_backends(register: Register) -> None:
    """Register LLM backends: ``register(name, factory)``.

    ``factory(target: str | None = None, **options)`` returns an :class:`opsgym.llm.base.LLMBackend`; ``target`` is the
    part after the colon in ``--llm name:target`` (a URL, a model path, a preset …).
    """


@hookspec
def register_perturbations(register: Register) -> None:
    """Register perturbation generators: ``register(name, factory)``.

    ``factory(**params)`` returns a :class:`opsgym.perturb.base.Perturbation`, which rewrites what the agent observes
    (and, where that is the realistic drift, the scenario) deterministically from a seed, never the ground truth.
    """


@hookspec
def register_cluster_backends(register: Register) -> None:
    """Register cluster backends: ``register(name, factory)``.

    ``factory(**options)`` returns a :class:`opsgym.cluster.base.ClusterBackend` (embedded simulator, kind, an existing
    kubeconfig …). A factory with the attribute ``shared_cluster = True`` puts every episode on one real cluster, so
    runs with it refuse to run episodes in parallel.
    """


@hookspec
def register_sandbox_backends(register: Register) -> None:
    """Register SWE sandbox backends: ``register(name, factory)``.

    ``factory(*, python=None, limits=None, packages=("pytest",))`` returns a :class:`opsgym.swe.sandbox.Sandbox`
    (the built-ins: ``bwrap``, isolated by bubblewrap, and ``unsafe-local``, limits only). SWE envs pick one with
    ``backend="<name>"``.
    """


@hookspec
def register_domains(register: Register) -> None:
    """Register task domains: ``register(domain)`` with an :class:`opsgym.domain.Domain`.

    A domain names the ``task.yaml`` section its tasks carry (validated by its pydantic model), the scenario class
    that plays them, its default backend and the registry kind of its backends, a hook that completes a loaded task,
    whether ``submit`` needs an answer, and its default scoring profile. Its name is the registry name. SRE and SWE
    register through this hook too (``opsgym.sre.domain``, ``opsgym.swe.domain``).
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks: ``register(path)`` with a task folder holding ``task.yaml``, or ``register(spec)``.

    Every registered task becomes a Gymnasium id ``opsgym/<TaskId>`` when :mod:`opsgym` is imported (a plugin imported
    before opsgym: when it is registered), with its ``max_steps`` as ``EnvSpec.max_episode_steps``.
    """


HOOK_KINDS: dict[str, str] = {
    "register_agents": "agent",
    "register_llm_backends": "llm backend",
    "register_perturbations": "perturbation",
    "register_cluster_backends": "cluster backend",
    "register_sandbox_backends": "sandbox backend",
    "register_domains": "domain",
    "register_tasks": "task",
}
"""The registry kind that each hook fills, as shown by ``opsgym list``."""
