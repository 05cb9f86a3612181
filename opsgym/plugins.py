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
from typing import TYPE_CHECKING, Any, Literal, overload

import pluggy

from opsgym import hookspecs
from opsgym.errors import PluginError, UnknownNameError

if TYPE_CHECKING:
    from opsgym.agents.base import Agent
    from opsgym.cluster.base import ClusterBackend
    from opsgym.llm.base import LLMBackend
    from opsgym.perturb.base import Perturbation
    from opsgym.swe.sandbox import Sandbox

__all__ = [
    "BUILTIN_PLUGINS",
    "PLUGIN_ERRORS",
    "Entry",
    "create",
    "entries",
    "get",
    "load_plugins",
    "on_late_load",
    "pm",
    "report",
    "set_adapter",
]

ENTRY_POINT_GROUP = "opsgym"

BUILTIN_PLUGINS: tuple[str, ...] = (
    "opsgym.agents.builtin",
    "opsgym.cluster.builtin",
    "opsgym.llm.builtin",
    "opsgym.perturb.builtin",
    "opsgym.sre.domain",
    "opsgym.swe.domain",
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
_PACKAGES: dict[str, str] = {}
_waiting: list[md.EntryPoint] = []
"""Entry points whose module was still running its own top-level code when plugins loaded (see _initialising)."""
_loaded = False
_lock = threading.RLock()


def report(message: str) -> None:
    """Record a problem a plugin (or one of its tasks) had, name it, and go on: one broken part stops nothing."""
    PLUGIN_ERRORS.append(message)
    warnings.warn(message, stacklevel=3)


def _allowed(name: str) -> bool:
    allow = os.environ.get("OPSGYM_LOAD_PLUGINS")
    if allow is None:
        return True
    return name in {n.strip() for n in allow.split(",") if n.strip()}


def _initialising(module: Any) -> bool:
    """Whether ``module`` is still executing its top level: it imported opsgym before defining its hooks.

    That is the "imported first" case (``import my_plugin`` whose top does ``from opsgym import hookimpl``): the entry
    point then resolves to the half-built module from ``sys.modules``, and registering it would silently register no
    hooks at all. Such a plugin waits until the next registry use, when its module is complete.
    """
    return bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _register_entry_points(eps: list[md.EntryPoint]) -> list[str]:
    """Import and register entry points; return the names registered now (the others wait or are reported)."""
    names = []
    for ep in eps:
        dist = ep.dist.name if ep.dist is not None else "?"
        try:
            module = ep.load()
            if _initialising(module):
                _waiting.append(ep)
                continue
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not take the others down
            report(f"plugin {ep.name!r} (from {dist}) failed to load: {type(exc).__name__}: {exc}")
            continue
        if not pm.get_hookcallers(module):
            report(f"plugin {ep.name!r} (from {dist}) defines no @hookimpl functions: nothing was registered")
        _PACKAGES[ep.name] = dist
        names.append(ep.name)
    return names


Adapter = Callable[[Any, Any], tuple[Any, Any]]
_ADAPTERS: dict[str, Adapter] = {}
_LATE_LOAD: list[Callable[[], None]] = []


def set_adapter(kind: str, adapter: Adapter) -> None:
    """Let the module that owns a kind turn what its hook registers into ``(name, entry)``.

    The task kind takes ``register(path_or_spec)``: :mod:`opsgym.tasks` loads the folder. Set by the owner at its own
    import, so this module never imports it (the owner imports this one, and a built-in plugin imports the owner).
    """
    _ADAPTERS[kind] = adapter


def on_late_load(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever plugins that waited (imported before opsgym) have registered (once per callback)."""
    if callback not in _LATE_LOAD:
        _LATE_LOAD.append(callback)


def _make_register(kind: str, plugin: str, package: str) -> Callable[..., None]:
    registry = _REGISTRIES[kind]
    adapter = _ADAPTERS.get(kind)

    def register(name: Any, factory: Any = None) -> None:
        if adapter is not None:
            name, factory = adapter(name, factory)
        elif factory is None and isinstance(getattr(name, "name", None), str):  # register(thing): a named object
            name, factory = name.name, name
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {plugin!r} registered a {kind} with an invalid name {name!r}")
        if name in registry:
            other = registry[name].plugin
            raise PluginError(f"plugin {plugin!r} registers {kind} {name!r}, which plugin {other!r} already registered")
        registry[name] = Entry(kind, name, factory, plugin, package)

    return register


def _run_hooks(plugin_names: set[str]) -> None:
    """Call the hooks of these plugins only, each on its own, so one failure names its plugin and stops nothing."""
    for hook_name, kind in hookspecs.HOOK_KINDS.items():
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            plugin = impl.plugin_name
            if plugin not in plugin_names:
                continue
            try:
                impl.function(register=_make_register(kind, plugin, _PACKAGES.get(plugin, "?")))
            except Exception as exc:
                report(f"plugin {plugin!r} failed in {hook_name}: {type(exc).__name__}: {exc}")


def load_plugins() -> None:
    """Import built-in and entry-point plugins once and fill the registries; later calls finish waiting plugins.

    Called by every registry read, so a plugin imported before opsgym (and so still half-built the first time) is
    registered at the first use after its import completed — or reported by name if that import failed.
    """
    global _loaded
    with _lock:
        late = _loaded
        if not _loaded:
            _loaded = True
            for module_name in BUILTIN_PLUGINS:
                pm.register(importlib.import_module(module_name), name=module_name)
                _PACKAGES[module_name] = "opsgym"
            eps = [ep for ep in md.entry_points(group=ENTRY_POINT_GROUP) if _allowed(ep.name)]
            new = [*BUILTIN_PLUGINS, *_register_entry_points(eps)]
        elif _waiting:
            eps = _waiting[:]
            _waiting.clear()
            new = _register_entry_points(eps)
        else:
            return
        pm.check_pending()
        _run_hooks(set(new))
    if late and new:  # at first load, importing opsgym registers the gym ids; a late plugin's tasks need theirs now
        for callback in _LATE_LOAD:
            callback()


Kind = Literal["agent", "llm backend", "perturbation", "cluster backend", "sandbox backend", "domain", "task"]


def entries(kind: Kind | str) -> dict[str, Entry]:
    """All registered things of one kind (see :data:`opsgym.hookspecs.HOOK_KINDS`)."""
    load_plugins()
    if kind not in _REGISTRIES:
        raise UnknownNameError("registry kind", kind, _REGISTRIES)
    return dict(_REGISTRIES[kind])


def get(kind: Kind | str, name: str) -> Entry:
    """The entry for ``name``, or :class:`UnknownNameError` with suggestions."""
    registry = entries(kind)
    if name not in registry:
        raise UnknownNameError(kind, name, registry)
    return registry[name]


@overload
def create(kind: Literal["agent"], name: str, /, *args: Any, **kwargs: Any) -> Agent: ...
@overload
def create(kind: Literal["llm backend"], name: str, /, *args: Any, **kwargs: Any) -> LLMBackend: ...
@overload
def create(kind: Literal["perturbation"], name: str, /, *args: Any, **kwargs: Any) -> Perturbation: ...
@overload
def create(kind: Literal["cluster backend"], name: str, /, *args: Any, **kwargs: Any) -> ClusterBackend: ...
@overload
def create(kind: Literal["sandbox backend"], name: str, /, *args: Any, **kwargs: Any) -> Sandbox: ...
@overload
def create(kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any: ...
def create(kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Build a registered thing by name (the factory runs only now, so heavy imports wait until here).

    Typed per kind: ``create("cluster backend", "sim")`` is a :class:`~opsgym.cluster.base.ClusterBackend` to a type
    checker. Domains and tasks are registered as themselves, not as factories: read them with :func:`get`.
    """
    return get(kind, name).factory(*args, **kwargs)
