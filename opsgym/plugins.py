"""The one plugin manager: built-ins and entry-point plugins fill name → factory registries.

Loading is lazy and idempotent (:func:`load_plugins`). Every hook implementation is called on its own, so a plugin
that fails to import, raises in its hook, or registers a name that another plugin already took is reported by name in
:data:`PLUGIN_ERRORS` (and as a warning) while the others still load. ``OPSGYM_LOAD_PLUGINS`` is an allow-list of
entry-point names (comma-separated; empty means no third-party plugins); unset means all.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from opsgym import hookspecs
from opsgym.errors import PluginError, UnknownNameError

__all__ = [
    "BUILTIN_PLUGINS",
    "PLUGIN_ERRORS",
    "Entry",
    "create",
    "entries",
    "get",
    "load_plugins",
    "pm",
]

ENTRY_POINT_GROUP = "opsgym"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "opsgym.agents.builtin",
    "opsgym.cluster.builtin",
    "opsgym.llm.builtin",
    "opsgym.perturb.builtin",
    "opsgym.tasks_builtin",
)

pm = pluggy.PluginManager("opsgym")
pm.add_hookspecs(hookspecs)


@dataclass(frozen=True)
class Entry:
    """One registered thing: its name, what makes it, and which plugin (and distribution) gave it."""

    kind: str
    name: str
    factory: Any
    plugin: str
    package: str


_REGISTRIES: dict[str, dict[str, Entry]] = {kind: {} for kind in hookspecs.HOOK_KINDS.values()}
PLUGIN_ERRORS: list[str] = []
_loaded = False
_lock = threading.RLock()


def _report(message: str) -> None:
    PLUGIN_ERRORS.append(message)
    warnings.warn(message, stacklevel=3)


def _allowed(name: str) -> bool:
    allow = os.environ.get("OPSGYM_LOAD_PLUGINS")
    if allow is None:
        return True
    return name in {n.strip() for n in allow.split(",") if n.strip()}


def _register_entry_points() -> dict[str, str]:
    """Import every allowed ``opsgym`` entry point; return plugin name → distribution name."""
    packages: dict[str, str] = {}
    for ep in md.entry_points(group=ENTRY_POINT_GROUP):
        if not _allowed(ep.name):
            continue
        dist = ep.dist.name if ep.dist is not None else "?"
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the others down
            _report(f"plugin {ep.name!r} (from {dist}) failed to load: {type(exc).__name__}: {exc}")
            continue
        packages[ep.name] = dist
    return packages


def _make_register(kind: str, plugin: str, package: str) -> Callable[..., None]:
    registry = _REGISTRIES[kind]

    def register(name: Any, factory: Any = None) -> None:
        if kind == "task":  # register(path_or_spec): the task's id is its name
            from opsgym.tasks import load_task

            spec = load_task(name) if factory is None else factory
            name, factory = spec.id, spec
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {kind} with an invalid name {name!r}")
        if name in registry:
            other = registry[name].plugin
            raise PluginError(f"plugin {plugin!r} registers {kind} {name!r}, which plugin {other!r} already registered")
        registry[name] = Entry(kind, name, factory, plugin, package)

    return register


def load_plugins() -> None:
    """Import built-in and entry-point plugins once and fill the registries."""
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        for module_name in BUILTIN_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
        packages = {name: "opsgym" for name in BUILTIN_PLUGINS} | _register_entry_points()
        pm.check_pending()
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                plugin = impl.plugin_name
                register = _make_register(kind, plugin, packages.get(plugin, "?"))
                try:
                    impl.function(register=register)
                except Exception as exc:
                    _report(f"plugin {plugin!r} failed in {hook_name}: {type(exc).__name__}: {exc}")


def entries(kind: str) -> dict[str, Entry]:
    """All registered things of one kind: agent, llm backend, perturbation, cluster backend or task."""
    load_plugins()
    if kind not in _REGISTRIES:
        raise UnknownNameError("registry kind", kind, _REGISTRIES)
    return dict(_REGISTRIES[kind])


def get(kind: str, name: str) -> Entry:
    """The entry for ``name``, or :class:`UnknownNameError` with suggestions."""
    registry = entries(kind)
    if name not in registry:
        raise UnknownNameError(kind, name, registry)
    return registry[name]


def create(kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build a registered thing by name (the factory runs only now, so heavy imports wait until here)."""
    return get(kind, name).factory(*args, **kwargs)
