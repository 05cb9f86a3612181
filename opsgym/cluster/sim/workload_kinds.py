"""The StatefulSet, DaemonSet, Job and CronJob controllers, stepped together by the engine.

One entry for the engine's reconcile steps and timers. A pass is skipped while nothing these controllers read has
been written since a pass that wrote nothing, and the clock has not reached their next timer: their syncs are
functions of exactly those, so the skip changes no outcome, and clusters without these kinds pay one version check.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from opsgym.cluster.sim.batch import Jobs
from opsgym.cluster.sim.cronjobs import CronJobs
from opsgym.cluster.sim.daemonsets import DaemonSets
from opsgym.cluster.sim.statefulsets import StatefulSets

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["KindControllers"]

INPUTS = ("statefulsets", "daemonsets", "jobs", "cronjobs", "pods", "nodes", "persistentvolumeclaims")
"""Every resource these controllers read."""


class KindControllers:
    """StatefulSets, DaemonSets, Jobs and CronJobs."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.parts = (StatefulSets(engine), DaemonSets(engine), Jobs(engine), CronJobs(engine))
        self._idle: tuple[tuple[int, ...], float] | None = None
        """(input versions, until): a pass over these inputs before that instant writes nothing."""

    def run(self) -> None:
        store, now = self.engine.store, self.engine.clock.now
        inputs = store.version(*INPUTS)
        if self.engine.skip_idle and self._idle is not None and self._idle[0] == inputs and now < self._idle[1]:
            return
        before = store.state_id
        for part in self.parts:
            part.run()
        self._idle = (inputs, self.quiet_until() or math.inf) if store.state_id == before else None

    def next_timer(self) -> float | None:
        """The earliest instant after now at which one of these controllers acts by itself."""
        now = self.engine.clock.now
        times = [t for part in self.parts for t in part.timers() if t > now]
        return min(times) if times else None

    def quiet_until(self) -> float | None:
        return self.next_timer()
