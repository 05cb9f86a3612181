"""The perturbation contract: deterministic, seeded rewrites of what the agent sees, never of the ground truth."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Perturbation"]


@runtime_checkable
class Perturbation(Protocol):
    """One kind of drift (schema change, reordered fields, renamed labels, log format, units, noise …)."""

    name: str

    def reset(self, seed: int) -> None:
        """Fix this episode's choices (which fields to rename, which format to use …) from ``seed``."""

    def observation(self, text: str) -> str:
        """Rewrite one observation. Must be deterministic for a given seed and input."""

    def scenario(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rewrite the rendered scenario where that is the realistic drift (e.g. a service's log format env var).

        Return ``objects`` unchanged when the drift is only in presentation. Must not change the fault.
        """
