"""A domain (SRE incidents, SWE tasks, a plugin's own …) as one registered object.

The core knows a domain only through this record: which ``task.yaml`` section it reads and with which model, which
scenario plays it, which backend it runs on by default and in which registry its backends live, how a loaded task is
completed, whether ``submit`` needs an answer, and its default scoring profile. Everything that used to be an
``if domain == …`` in the env, the task loader or the runner is a field here, so a new domain is one ``register(...)``
call in a plugin (hook ``register_domains``), and SRE and SWE register the same way (``opsgym/sre/domain.py``,
``opsgym/swe/domain.py``).

The scenario class and the preparation hook may be given as ``"module:attribute"`` strings, so the heavy modules of a
domain load only when one of its tasks is made.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from opsgym.scenario import Scenario

__all__ = ["Domain", "get_domain", "load_object"]


def load_object(ref: Any) -> Any:
    """``"module:attribute"`` → the attribute (imported now); anything else is returned as it is."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Domain:
    """What the core needs to know about one domain.

    Attributes:
        name: the ``domain:`` value of its task files, and the name of their section (``sre:``, ``swe:``, …).
        section: the pydantic model of that section; a task file is checked against it when loaded.
        scenario: the :class:`~opsgym.scenario.Scenario` class (or ``"module:Class"``), built as
            ``scenario(task, backend=..., backend_options=..., perturbations=...)``.
        default_backend: the backend an env uses when none is given.
        backend_kind: the registry kind its backends are looked up in (``"cluster backend"``,
            ``"sandbox backend"``), so ``--backend`` is checked before a run starts; ``None``: a domain with one
            built-in backend, ``default_backend``, and nothing to choose.
        default_profile: the scoring profile of a task file that names none.
        submit_needs_answer: whether ``submit`` with no JSON object is refused (SRE: the answer is the diagnosis) or
            accepted (SWE: the repository's end state is the answer).
        prepare: called with each loaded :class:`~opsgym.tasks.TaskSpec` (or ``"module:function"``), to fill what
            the file may leave out (SWE: the oracle's actions from the gold patch) or check what the section's model
            cannot see alone (SRE: every ``${variable}`` defined). ``None``: nothing to do.
        merged_lists: dotted keys (``sre.fault``) whose lists *concatenate* when a task file ``uses:`` library
            files, so that two fault types compose; every other key of a later document replaces the earlier one.
    """

    name: str
    section: type[BaseModel]
    scenario: type[Scenario] | str
    default_backend: str
    backend_kind: str | None
    default_profile: str
    submit_needs_answer: bool = True
    prepare: Callable[[Any], None] | str | None = None
    merged_lists: tuple[str, ...] = ()

    def scenario_class(self) -> Callable[..., Scenario]:
        cls: Callable[..., Scenario] = load_object(self.scenario)
        return cls

    def prepare_task(self, task: Any) -> None:
        if self.prepare is not None:
            load_object(self.prepare)(task)


def get_domain(name: str) -> Domain:
    """The registered domain ``name`` (typed), or :class:`~opsgym.errors.UnknownNameError` with suggestions."""
    from opsgym import plugins  # deferred: plugins loads the built-in domains, which import this module

    domain: Domain = plugins.get("domain", name).factory
    return domain
