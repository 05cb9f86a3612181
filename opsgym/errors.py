"""Named exceptions for opsgym.

Every error a user can hit has a class here, and its message says how to fix the problem. Agent input never raises:
a bad action becomes an observation. These exceptions are for people configuring opsgym (bad task files, unknown
names, missing system tools) and for infrastructure failures that a runner must tell apart from agent failures.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BackendUnavailableError",
    "ClusterApiError",
    "InfrastructureError",
    "LLMRequestError",
    "OpsGymError",
    "PluginError",
    "RunConfigError",
    "SandboxUnavailableError",
    "ScoringConfigError",
    "TaskSpecError",
    "UnknownNameError",
    "UnsafeClusterError",
]


class OpsGymError(Exception):
    """Base class of every opsgym error."""


class UnknownNameError(OpsGymError, KeyError):
    """A registry lookup (agent, backend, task, perturbation …) found no such name."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(known) if known else "(none registered)"
        super().__init__(f"unknown {kind} {name!r}.{hint} Known {kind}s: {listing}. `opsgym list` shows all.")
        self.kind, self.name, self.suggestions = kind, name, close

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class TaskSpecError(OpsGymError):
    """A task folder or task.yaml is invalid; the message names the file, the field and the reason."""


class PluginError(OpsGymError):
    """A plugin failed to load or registered something invalid; the message names the plugin."""


class InfrastructureError(OpsGymError):
    """The environment's machinery failed (cluster down, LLM server unreachable, sandbox broken).

    Runners record these as infrastructure failures, never as the agent's fault.
    """


class LLMRequestError(InfrastructureError):
    """An LLM request failed after retries (server down, timeout, 5xx, unparseable reply).

    ``call`` is the failed :class:`opsgym.llm.telemetry.LLMCall` (``error`` set, ``infra_failure=True``) so the caller
    can still record it in the episode's ledger.
    """

    def __init__(self, message: str, call: object = None):
        super().__init__(message)
        self.call = call


class ClusterApiError(InfrastructureError):
    """The cluster's API refused a read the judge needed (403, 500 …): the episode cannot be judged.

    ``status`` is the HTTP status. A 404 is never this error: a missing object is an answer, read as ``None``.
    """

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class BackendUnavailableError(InfrastructureError):
    """A cluster or LLM backend cannot run on this machine (no Docker engine, no GPU, no kubectl …)."""


class SandboxUnavailableError(InfrastructureError):
    """No sandbox can start, so opsgym refuses to run untrusted code."""


class ScoringConfigError(OpsGymError):
    """Scoring is misconfigured (bad weights, unknown profile or metric); the message names the profile and values."""


class UnsafeClusterError(OpsGymError):
    """opsgym refuses to touch a cluster or namespace it should not (looks like production, or not opsgym's own)."""


class RunConfigError(OpsGymError):
    """An evaluation run is misconfigured (bad matrix option, run directory in use or planned differently, nothing to
    report); the message says which option or directory, and what to pass instead."""


class QuantityError(OpsGymError, ValueError):
    """A value is not a Kubernetes quantity (``128MB``); the message shows valid spellings (``128Mi``, ``500m``)."""


class SelectorError(OpsGymError, ValueError):
    """A label selector string is malformed; the message quotes the term and the forms that are accepted."""


class UnknownSandboxError(UnknownNameError, SandboxUnavailableError):
    """No SWE sandbox backend has this name: a misspelling (with suggestions, like any unknown name) that is also the
    sandbox being unavailable, which is what code catching :class:`SandboxUnavailableError` expects."""
