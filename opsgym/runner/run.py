"""The run loop: plan → skip what is done → dispatch to an executor → write each record durably → retry lost ones.

A run directory holds ``run.json`` (the :class:`~opsgym.runner.plan.RunPlan`) and ``records.jsonl`` (one
:class:`~opsgym.record.EpisodeRecord` per attempt). Only this loop writes records, one fsynced line per finished
attempt, so after any crash the file says exactly which episodes are done and ``--resume`` runs the rest: every
planned episode ends up with exactly one final record. An ``infra_failure`` is not final while attempts remain.

Ctrl-C once: no new episodes start, running ones finish and are recorded. Ctrl-C twice: running episodes are
abandoned (not recorded; ``--resume`` reruns them) and the run stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from opsgym.errors import RunConfigError
from opsgym.record import EpisodeRecord, LineProblem, RecordWriter, RunSpec, read_records
from opsgym.runner.executors import Executor, ProcessExecutor, SerialExecutor
from opsgym.runner.plan import RunPlan, check_execution

__all__ = ["RECORDS_FILE", "RUN_FILE", "RunDisplay", "RunResult", "execute", "final_records", "load_run"]

RUN_FILE = "run.json"
RECORDS_FILE = "records.jsonl"


class RunDisplay(Protocol):
    """What the run loop tells a progress display (see :class:`opsgym.runner.progress.RichDisplay`)."""

    def start(self, total: int, done: int) -> None: ...

    def progress(self, key: str, data: dict[str, Any]) -> None: ...

    def finished(self, record: EpisodeRecord, retrying: bool) -> None: ...

    def note(self, message: str) -> None: ...

    def stop(self) -> None: ...


class _Quiet:
    def start(self, total: int, done: int) -> None:
        """No display."""

    def progress(self, key: str, data: dict[str, Any]) -> None:
        """No display."""

    def finished(self, record: EpisodeRecord, retrying: bool) -> None:
        """No display."""

    def note(self, message: str) -> None:
        """No display."""

    def stop(self) -> None:
        """No display."""


@dataclass
class RunResult:
    run_dir: Path
    planned: int
    records: list[EpisodeRecord]
    written: int = 0
    interrupted: bool = False
    abandoned: bool = False
    problems: list[LineProblem] = field(default_factory=list)

    @property
    def missing(self) -> int:
        return self.planned - len(self.records)


def final_records(records: list[EpisodeRecord], max_attempts: int = 1) -> dict[str, EpisodeRecord]:
    """The settled record of each episode key: its last final record, else its last attempt once out of retries."""
    settled: dict[str, EpisodeRecord] = {}
    attempts: Counter[str] = Counter()
    for record in records:
        key = record.spec.episode_key
        attempts[key] += 1
        if record.final or attempts[key] >= max_attempts:
            settled[key] = record
    return settled


def load_run(run_dir: str | Path) -> tuple[RunPlan | None, list[EpisodeRecord], list[LineProblem]]:
    """Read a run directory: its plan (if any), every record attempt in file order, and the skipped lines."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunConfigError(f"{run_dir} is not a run directory (make one with `opsgym run --out {run_dir}`)")
    plan_path = run_dir / RUN_FILE
    plan = RunPlan.model_validate_json(plan_path.read_text()) if plan_path.exists() else None
    result = read_records(run_dir / RECORDS_FILE)
    return plan, result.records, result.problems


def _prepare(plan: RunPlan, run_dir: Path, resume: bool) -> RunPlan:
    """The plan to run: the stored one when resuming (its env ids as resolved then), else ``plan``, now stored."""
    plan_path = run_dir / RUN_FILE
    existing = RunPlan.model_validate_json(plan_path.read_text()) if plan_path.exists() else None
    if existing is not None and not resume:
        raise RunConfigError(f"{run_dir} already holds a run; pass --resume to finish it, or choose another --out")
    if existing is not None:
        if existing.matrix() != plan.matrix():
            raise RunConfigError(f"{run_dir} was planned with a different matrix ({existing.envs}, agents "
                              f"{[a.name for a in existing.agents]}, seeds {existing.seeds}); resume it with the "
                              "same options (or with --resume alone), or use another --out")
        return existing
    env_ids = plan.validate_names()
    plan = plan.model_copy(update={"env_ids": env_ids, "planned": len(plan.episodes(env_ids))})
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = plan_path.with_suffix(".tmp")
    tmp.write_text(plan.model_dump_json(indent=2))
    tmp.replace(plan_path)
    return plan


class _Interrupts:
    """First Ctrl-C: finish running episodes. Second: abandon them (raises KeyboardInterrupt)."""

    def __init__(self, display: RunDisplay) -> None:
        self.stopping = False
        self._display = display
        self._previous: Any = None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stopping:
            raise KeyboardInterrupt
        self.stopping = True
        self._display.note("Ctrl-C: finishing the running episodes (press Ctrl-C again to abandon them)")

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _make_executor(kind: str, parallel: int | None, display: RunDisplay, observation_chars: int,
                   ray_address: str | None) -> Executor:
    if kind == "ray":
        from opsgym.runner.ray_executor import RayExecutor

        return RayExecutor(parallel, address=ray_address, observation_chars=observation_chars,
                           on_progress=display.progress)
    if kind != "process":
        raise RunConfigError(f"unknown executor {kind!r}; use 'process' (local worker processes) or 'ray'")
    if (parallel or 1) == 1:
        return SerialExecutor(observation_chars=observation_chars, on_progress=display.progress)
    return ProcessExecutor(int(parallel or 1), observation_chars=observation_chars, on_progress=display.progress)


def execute(plan: RunPlan, run_dir: str | Path, *, executor: str = "process", parallel: int | None = 1,
            resume: bool = False, max_attempts: int = 3, observation_chars: int = 16_384,
            display: RunDisplay | None = None, ray_address: str | None = None) -> RunResult:
    """Run (or finish) ``plan`` into ``run_dir``. Names are checked before anything starts.

    ``parallel=1`` with the process executor runs episodes in this process; more starts that many workers.
    """
    if max_attempts < 1:
        raise RunConfigError("max_attempts must be at least 1")
    display = display or _Quiet()
    run_dir = Path(run_dir)
    # what cannot run concurrently (the human agent, a shared real cluster), unknown names and executors fail here,
    # before anything is written or started
    check_execution(plan, executor, parallel)
    runner = _make_executor(executor, parallel, display, observation_chars, ray_address)
    plan.validate_names()
    plan = _prepare(plan, run_dir, resume)
    planned = plan.episodes(plan.env_ids)
    by_key = {s.episode_key: s for s in planned}
    read = read_records(run_dir / RECORDS_FILE)
    for problem in read.problems:
        display.note(f"{run_dir / RECORDS_FILE}: skipped {problem}")
    attempts: Counter[str] = Counter(r.spec.episode_key for r in read.records)
    settled = final_records(read.records, max_attempts)
    queue: deque[tuple[RunSpec, int]] = deque((s, attempts[s.episode_key] + 1) for s in planned
                                              if s.episode_key not in settled)
    result = RunResult(run_dir, len(planned), [], problems=read.problems)
    display.start(len(planned), len(planned) - len(queue))
    writer = RecordWriter(run_dir / RECORDS_FILE)
    in_flight = 0
    try:
        with _Interrupts(display) as interrupts:
            runner.start()
            try:
                while queue or in_flight:
                    while queue and not interrupts.stopping and runner.free_slots() > 0:
                        runner.submit(*queue.popleft())
                        in_flight += 1
                    if not in_flight:
                        break
                    for record in runner.poll(0.25):
                        in_flight -= 1
                        writer.write(record)
                        result.written += 1
                        key = record.spec.episode_key
                        attempts[key] += 1
                        retry = not record.final and attempts[key] < max_attempts
                        if retry:
                            queue.append((by_key[key], attempts[key] + 1))
                        else:
                            settled[key] = record
                        display.finished(record, retry)
                result.interrupted = interrupts.stopping
            except KeyboardInterrupt:
                result.interrupted = result.abandoned = True
                runner.abandon()
                display.note(f"abandoned {in_flight} running episode(s); `--resume` will run them again")
    finally:
        runner.close()
        writer.close()
        display.stop()
    result.records = [settled[s.episode_key] for s in planned if s.episode_key in settled]
    return result
