"""What the ReplicaSet controller does when the API refuses a pod (a quota, a LimitRange, Pod Security, a missing
PriorityClass): a ``FailedCreate`` event ``Error creating: <the API's message>``, a ``ReplicaFailure`` condition on
the ReplicaSet (copied to its Deployment), and retries on the controller's exponential back-off (5 ms doubling up to
1000 s, the workqueue's default), on the virtual clock.

The back-off state is the engine's (``counters``, so snapshots carry it): without it every reconcile pass would retry
at once, and a refused pod would be attempted hundreds of times an instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.status import ApiError

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["CreateFailures", "deployment_failure"]

Obj = dict[str, Any]
FIRST_RETRY_S = 0.005
MAX_RETRY_S = 1000.0
CONDITION = "ReplicaFailure"


class CreateFailures:
    """Per-ReplicaSet failure counts and retry instants (keyed by uid in ``engine.counters``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def _state(self) -> dict[str, list[float]]:
        state: dict[str, list[float]] = self.engine.counters.setdefault("create_backoff", {})
        return state

    @property
    def _last_error(self) -> dict[str, str]:
        """uid → the message of the first refusal since the ReplicaSet started failing."""
        errors: dict[str, str] = self.engine.counters.setdefault("create_errors", {})
        return errors

    def blocked(self, rs: Obj) -> bool:
        """Whether ``rs`` is still backing off from its last refused create."""
        entry = self._state.get(rs["metadata"]["uid"])
        return entry is not None and self.engine.clock.now < entry[1]

    def failed(self, rs: Obj, error: ApiError) -> None:
        """Record a refused create: the event, and the next retry after the back-off."""
        self.engine.events.emit(rs, "Warning", "FailedCreate", f"Error creating: {error.message}",
                                "replicaset-controller")
        failures = self._state.get(rs["metadata"]["uid"], [0, 0.0])[0] + 1
        delay = min(FIRST_RETRY_S * 2 ** min(failures - 1, 40), MAX_RETRY_S)
        self._state[rs["metadata"]["uid"]] = [failures, self.engine.clock.now + delay]
        self._last_error.setdefault(rs["metadata"]["uid"], error.message)

    def succeeded(self, rs: Obj) -> None:
        """A sync that created what it needed forgets the back-off, as the workqueue does."""
        self._state.pop(rs["metadata"]["uid"], None)
        self._last_error.pop(rs["metadata"]["uid"], None)

    def retry_times(self) -> list[float]:
        """Future retry instants (timers, so virtual time stops there)."""
        now = self.engine.clock.now
        return [entry[1] for entry in self._state.values() if entry[1] > now]

    def retry_at(self, rs: Obj) -> float | None:
        entry = self._state.get(rs["metadata"]["uid"])
        return entry[1] if entry is not None and entry[1] > self.engine.clock.now else None

    def condition(self, rs: Obj) -> Obj | None:
        """The ReplicaFailure condition ``rs`` should carry (the first error since it started failing), or None."""
        message = self._last_error.get(rs["metadata"]["uid"])
        if message is None:
            return None
        old = next((c for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == CONDITION), None)
        if old is not None:
            return old
        return {"type": CONDITION, "status": "True", "lastTransitionTime": self.engine.stamp(),
                "reason": "FailedCreate", "message": message}


def deployment_failure(replicasets: list[Obj]) -> Obj | None:
    """The ReplicaFailure a Deployment shows: its new ReplicaSet's (first in the list), else an old one's."""
    for rs in replicasets:
        cond = next((c for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == CONDITION),
                    None)
        if cond is not None:
            return {"type": CONDITION, "status": cond["status"], "lastUpdateTime": cond["lastTransitionTime"],
                    "lastTransitionTime": cond["lastTransitionTime"], "reason": cond["reason"],
                    "message": cond["message"]}
    return None
