"""``opsgym run --executor ray``: episodes as Ray tasks, across every machine of a Ray cluster.

The driver (the machine running ``opsgym run``) stays the only writer of ``records.jsonl``, so records, retries and
``--resume`` behave exactly as with local worker processes. Each Ray worker process keeps its own
:class:`~opsgym.runner.episode.EpisodeRunner` (envs stay warm across the episodes it is given). A task lost to a
crashed worker or a dead node comes back as an ``infra_failure`` record and is retried by the run loop; Ray's own
retries are off so that every attempt is counted in one place. Ray is an optional dependency (``opsgym[ray]``).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any

from opsgym.errors import RunConfigError
from opsgym.record import EpisodeRecord, RunSpec
from opsgym.runner.episode import EpisodeRunner
from opsgym.runner.executors import lost_episode, received_record

__all__ = ["RayExecutor"]

_RUNNER: EpisodeRunner | None = None


def _run_in_ray_worker(spec_json: str, attempt: int, observation_chars: int) -> str:
    """Runs inside a Ray worker process; the module-level runner keeps envs warm between tasks."""
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = EpisodeRunner(observation_chars=observation_chars, executor="ray")
    spec = RunSpec.model_validate_json(spec_json)
    return _RUNNER.run(spec, attempt).to_json_line()


class RayExecutor:
    """Runs up to ``parallel`` episodes at once as Ray tasks (default: the cluster's CPU count).

    Args:
        parallel: concurrent episodes; ``None`` uses every CPU the cluster reports.
        address: a Ray cluster address (``ray://…`` or ``host:port``); ``None`` joins the Ray instance this process
            already started, or ``RAY_ADDRESS``, or starts a local one.
        cpus_per_episode: CPUs Ray reserves per episode (an episode with a local cluster may need more than one).
    """

    name = "ray"

    def __init__(self, parallel: int | None = None, *, address: str | None = None, cpus_per_episode: float = 1.0,
                 observation_chars: int = 16_384, on_progress: Any = None) -> None:
        if importlib.util.find_spec("ray") is None:  # refuse before a run writes anything, not at start
            raise RunConfigError("--executor ray needs Ray: pip install 'opsgym[ray]'")
        self.parallel = parallel
        self.address = address
        self.cpus_per_episode = cpus_per_episode
        self.observation_chars = observation_chars
        self._refs: dict[Any, tuple[RunSpec, int]] = {}
        self._remote: Any = None
        self._started_ray = False

    def start(self) -> None:
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
            self._started_ray = True
        if self.parallel is None:
            self.parallel = max(1, int(ray.cluster_resources().get("CPU", 1) // self.cpus_per_episode))
        self._remote = ray.remote(num_cpus=self.cpus_per_episode, max_retries=0)(_run_in_ray_worker)

    def free_slots(self) -> int:
        return max(0, int(self.parallel or 1) - len(self._refs))

    def submit(self, spec: RunSpec, attempt: int) -> None:
        ref = self._remote.remote(spec.model_dump_json(), attempt, self.observation_chars)
        self._refs[ref] = (spec, attempt)

    def poll(self, timeout: float) -> list[EpisodeRecord]:
        import ray

        if not self._refs:
            return []
        ready, rest = ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        finished = []
        for ref in ready:
            spec, attempt = self._refs.pop(ref)
            try:
                finished.append(received_record(ray.get(ref), spec, attempt, "ray"))
            except ray.exceptions.RayError as exc:
                finished.append(lost_episode(spec, attempt, "ray", f"Ray lost the episode: {type(exc).__name__}: "
                                                                   f"{str(exc).splitlines()[0] if str(exc) else ''}"))
        return finished

    def abandon(self) -> None:
        import ray

        for ref in self._refs:
            ray.cancel(ref, force=True)
        self._refs.clear()

    def close(self) -> None:
        if self._started_ray:
            import ray

            ray.shutdown()
