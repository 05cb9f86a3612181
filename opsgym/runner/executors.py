"""Where episodes run: in this process (``serial``) or in worker processes (``process``); Ray lives in
:mod:`opsgym.runner.ray_executor`.

Every executor has the same small surface — ``start``, ``free_slots``, ``submit``, ``poll``, ``abandon``, ``close`` —
and hands finished :class:`~opsgym.record.EpisodeRecord` objects back to the run loop, which is the only writer of
``records.jsonl``. Workers are started with the ``spawn`` method (safe with threads, the same on every OS), each owns
its envs (and so its cluster or workspace), and ignore Ctrl-C so that the run loop decides what an interrupt means.
A worker that dies mid-episode (segfault, OOM killer, ``os._exit``) turns into an ``infra_failure`` record for the
episode it held; the loop retries it and a fresh worker takes the dead one's place. A record the parent cannot read
back becomes an ``infra_failure`` the same way (:func:`received_record`): nothing a worker sends can stop the run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from opsgym.record import EpisodeError, EpisodeRecord, RunSpec
from opsgym.runner.episode import EpisodeRunner, runtime_versions

__all__ = ["Executor", "ProcessExecutor", "ProgressSink", "SerialExecutor", "lost_episode", "received_record"]

ProgressSink = Callable[[str, dict[str, Any]], None]
"""``sink(episode_key, {"step", "tokens", "cost_usd"})``: live progress of a running episode."""


class Executor(Protocol):
    name: str

    def start(self) -> None: ...

    def free_slots(self) -> int: ...

    def submit(self, spec: RunSpec, attempt: int) -> None: ...

    def poll(self, timeout: float) -> list[EpisodeRecord]: ...

    def abandon(self) -> None: ...

    def close(self) -> None: ...


def lost_episode(spec: RunSpec, attempt: int, kind: str, message: str,
                 error_type: str = "WorkerLost") -> EpisodeRecord:
    """The record of an episode whose worker vanished: an infrastructure failure with the reason."""
    now = time.time()
    return EpisodeRecord(
        status="infra_failure", spec=spec.model_copy(update={"versions": runtime_versions()}), attempt=attempt,
        started_at=now, finished_at=now, worker=kind,
        error=EpisodeError(kind="infrastructure", type=error_type, message=message, where="worker"),
    )


def received_record(payload: str, spec: RunSpec, attempt: int, worker: str) -> EpisodeRecord:
    """The record a worker sent for ``spec``, or an infrastructure failure saying why it could not be read.

    Why it cannot raise: the parent is the run's only writer, so one unreadable payload (a worker of another opsgym
    version, a bug in how a record is written) would otherwise end the run and every episode still in flight.
    """
    try:
        return EpisodeRecord.model_validate_json(payload)
    except ValueError as exc:  # a ValidationError, or text that is not JSON at all
        return lost_episode(spec, attempt, worker, f"the worker's record of this episode could not be read back: "
                                                   f"{str(exc)[:2000]}", error_type="UnreadableRecord")


class SerialExecutor:
    """Runs one episode at a time in this process: least overhead, and the only way for the ``human`` agent."""

    name = "serial"

    def __init__(self, *, observation_chars: int = 16_384, on_progress: ProgressSink | None = None) -> None:
        self._runner = EpisodeRunner(observation_chars=observation_chars, executor=self.name)
        self._queue: deque[tuple[RunSpec, int]] = deque()
        self._on_progress = on_progress

    def start(self) -> None:
        """Nothing to start: episodes run in this process."""

    def free_slots(self) -> int:
        return 0 if self._queue else 1

    def submit(self, spec: RunSpec, attempt: int) -> None:
        self._queue.append((spec, attempt))

    def poll(self, timeout: float) -> list[EpisodeRecord]:
        if not self._queue:
            return []
        spec, attempt = self._queue.popleft()
        sink = self._on_progress
        on_step = (lambda data: sink(spec.episode_key, data)) if sink is not None else None
        return [self._runner.run(spec, attempt, on_step=on_step)]

    def abandon(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        self._runner.close()


def _exit_with_parent(parent: int) -> None:
    """Leave at once when the run's process dies (``kill -9`` included): an orphan would hold its cluster forever."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _worker_main(conn: Connection, observation_chars: int) -> None:
    """A worker process: run episodes sent by the parent until told to stop or the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    runner = EpisodeRunner(observation_chars=observation_chars, executor="process")
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message is None:
                break
            spec_json, attempt = message
            spec = RunSpec.model_validate_json(spec_json)
            key = spec.episode_key

            def report(data: dict[str, Any], key: str = key) -> None:
                conn.send(("progress", key, data))

            record = runner.run(spec, attempt, on_step=report)
            conn.send(("done", key, record.to_json_line()))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent is gone (killed or abandoned the run): nothing left to report to
    finally:
        runner.close()


@dataclass
class _Worker:
    process: Any
    conn: Connection
    task: tuple[RunSpec, int] | None = None


class ProcessExecutor:
    """``parallel`` worker processes, one episode each at a time, replaced when they die."""

    name = "process"

    def __init__(self, parallel: int, *, observation_chars: int = 16_384,
                 on_progress: ProgressSink | None = None) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.parallel = parallel
        self.observation_chars = observation_chars
        self._on_progress = on_progress
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, args=(child, self.observation_chars), daemon=True,
                                    name="opsgym-worker")
        process.start()
        child.close()
        return _Worker(process, parent)

    def start(self) -> None:
        self._workers = [self._spawn() for _ in range(self.parallel)]

    def free_slots(self) -> int:
        return sum(1 for w in self._workers if w.task is None)

    def submit(self, spec: RunSpec, attempt: int) -> None:
        worker = next(w for w in self._workers if w.task is None)
        worker.task = (spec, attempt)
        try:
            worker.conn.send((spec.model_dump_json(), attempt))
        except (BrokenPipeError, OSError):
            pass  # the worker died idle; poll() notices and reports the episode as lost

    def _drain(self, worker: _Worker, finished: list[EpisodeRecord]) -> bool:
        """Read everything the worker sent; return False when its pipe is closed."""
        try:
            while worker.conn.poll():
                kind, key, payload = worker.conn.recv()
                if kind == "progress" and self._on_progress is not None:
                    self._on_progress(key, payload)
                elif kind == "done" and worker.task is not None:
                    spec, attempt = worker.task
                    finished.append(received_record(payload, spec, attempt,
                                                   f"pid {worker.process.pid}@{socket.gethostname()}"))
                    worker.task = None
        except (EOFError, OSError):
            return False
        return True

    def poll(self, timeout: float) -> list[EpisodeRecord]:
        busy = [w for w in self._workers if w.task is not None]
        if not busy:
            return []
        wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout)
        finished: list[EpisodeRecord] = []
        for index, worker in enumerate(self._workers):
            open_pipe = self._drain(worker, finished)
            if open_pipe and worker.process.is_alive():
                continue
            worker.process.join(timeout=5)
            if worker.task is not None:
                spec, attempt = worker.task
                code = worker.process.exitcode
                how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
                finished.append(lost_episode(spec, attempt, f"pid {worker.process.pid}@{socket.gethostname()}",
                                             f"worker process {worker.process.pid} {how} while running this episode"))
            worker.conn.close()
            self._workers[index] = self._spawn()
        return finished

    def abandon(self) -> None:
        """Stop every worker now; running episodes are not recorded (``--resume`` runs them again)."""
        for worker in self._workers:
            worker.task = None
            if worker.process.is_alive():
                os.kill(worker.process.pid, signal.SIGKILL)
        for worker in self._workers:
            worker.process.join(timeout=5)
            worker.conn.close()
        self._workers = []

    def close(self) -> None:
        for worker in self._workers:
            try:
                worker.conn.send(None)
            except (BrokenPipeError, OSError):
                continue
        for worker in self._workers:
            worker.process.join(timeout=30)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(timeout=5)
            worker.conn.close()
        self._workers = []
