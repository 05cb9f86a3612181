"""The episode record: the one thing reports, replay and ``--resume`` read.

One :class:`EpisodeRecord` per finished episode attempt, appended as one JSON line to ``records.jsonl`` and fsynced
before the next episode is counted as done, so a crash (even ``kill -9``) loses at most the episodes still running.
A record keeps everything needed to judge, recompute or replay an episode without the env: the run spec (what ran,
with which versions), every step with its timings and the exact LLM calls, the env's :class:`~opsgym.outcome.Outcome`
(facts and ground truth), the metrics with their raw inputs, and an error that says whose fault a failure was.

Whatever an env or agent put into a record, its line can be read back: NaN and ±infinity are written as the JSON
extensions ``NaN``/``Infinity`` (Python's :mod:`json` and pydantic read them; plain ``null`` would be refused by a
float field), and text that has no UTF-8 form (a lone surrogate) is written with U+FFFD in its place.

:func:`read_records` never raises for a bad line: a torn last line (the write a crash interrupted), a corrupt line or
a foreign one is reported with its line number and skipped, so one damaged line never costs a whole run.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError, to_json

from opsgym.llm.telemetry import LLMCall
from opsgym.outcome import Outcome

__all__ = [
    "RECORD_SCHEMA",
    "RECORD_VERSION",
    "EpisodeError",
    "EpisodeRecord",
    "EpisodeStatus",
    "ErrorKind",
    "LineProblem",
    "ReadResult",
    "RecordWriter",
    "RunSpec",
    "StepRecord",
    "read_records",
]

RECORD_SCHEMA = "opsgym.episode"
RECORD_VERSION = 1

EpisodeStatus = Literal["completed", "agent_failure", "infra_failure"]
"""``completed``: the env ended the episode (terminated or truncated), whatever the score. ``agent_failure``: the agent
raised. ``infra_failure``: the machinery failed (env/backend, LLM server, sandbox, a dead worker); such an attempt says
nothing about the agent and is retried."""

ErrorKind = Literal["infrastructure", "agent"]


class RunSpec(BaseModel):
    """What ran: enough to rerun the episode and to know which software produced it."""

    run_id: str
    episode_key: str = Field(description="stable id of the planned episode; --resume matches on it")
    env_id: str
    task_id: str = ""
    task_version: str = ""
    seed: int
    repeat: int = 0
    perturbation: str | None = None
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    agent: str
    agent_config: dict[str, Any] = Field(default_factory=dict)
    llm: str | None = Field(None, description="LLM backend spec, e.g. 'openai:http://127.0.0.1:8000/v1'")
    llm_config: dict[str, Any] = Field(default_factory=dict, description="inference configuration options")
    model: dict[str, Any] = Field(default_factory=dict, description="model identity: name, revision, hash")
    executor: str = "serial"
    versions: dict[str, str] = Field(default_factory=dict, description="python, opsgym and dependency versions")

    @property
    def label(self) -> str:
        """The agent and its configuration as one short string (the column reports group by)."""
        parts = [self.agent]
        if self.agent_config:
            parts.append(",".join(f"{k}={v}" for k, v in sorted(self.agent_config.items())))
        if self.llm:
            parts.append(self.llm)
        return ":".join(parts)


class StepRecord(BaseModel):
    """One step as the runner saw it: full action, observation, timings, and which LLM calls produced the action."""

    index: int
    action: str
    observation: str = Field("", description="the observation after the action (truncated to the record limit)")
    observation_sha256: str = ""
    observation_chars: int = 0
    cls: str = Field("", description="action class from the outcome: read, mutate, destructive, intervention …")
    verb: str = ""
    ok: bool = True
    error: str = ""
    reward: float = 0.0
    agent_s: float = Field(0.0, description="time inside agent.act (LLM calls included)")
    env_s: float = Field(0.0, description="time inside env.step")
    sim_time_s: float = 0.0
    llm_call_ids: list[int] = Field(default_factory=list, description="indices into EpisodeRecord.llm_calls")


class EpisodeError(BaseModel):
    """Why an attempt failed, and whose fault it was."""

    kind: ErrorKind
    type: str
    message: str
    where: str = Field("", description="make, reset, agent.reset, act, step, worker, llm")
    step: int | None = None
    traceback: str = ""


class EpisodeRecord(BaseModel):
    """One attempt at one planned episode (versioned; readers check ``schema`` and ``version``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    schema_: str = Field(RECORD_SCHEMA, alias="schema")
    version: int = RECORD_VERSION
    status: EpisodeStatus
    spec: RunSpec
    attempt: int = 1
    worker: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    duration_s: float = 0.0
    reset_s: float = 0.0
    observation0: str = Field("", description="the first observation (alert text and tools)")
    steps: list[StepRecord] = Field(default_factory=list)
    llm_calls: list[LLMCall] = Field(default_factory=list, description="every LLM call, in order, messages included")
    llm_summary: dict[str, Any] = Field(default_factory=dict, description="Ledger.summary(): sums and rates")
    reward: float = Field(0.0, description="the final step's reward (TaskEfficacy under the scoring wrapper)")
    total_reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    outcome: Outcome | None = Field(None, description="facts of the episode, ground truth included")
    metrics: dict[str, Any] = Field(default_factory=dict, description="scores and their raw inputs")
    error: EpisodeError | None = None

    @property
    def ground_truth(self) -> dict[str, Any]:
        return self.outcome.ground_truth if self.outcome is not None else {}

    @property
    def final(self) -> bool:
        """Whether this attempt settles its episode (an infra failure may be retried)."""
        return self.status != "infra_failure"

    def calls_for_step(self, index: int) -> list[LLMCall]:
        return [self.llm_calls[i] for i in self.steps[index].llm_call_ids]

    def to_json_line(self) -> str:
        """The record as one JSON line that :func:`read_records` can always read back (see the module docstring).

        Why not ``model_dump_json``: pydantic writes NaN and infinities as ``null``, which the same float fields then
        refuse, and it raises on lone surrogates; nested models (outcome, LLM calls) would each need their own config.
        """
        data = self.model_dump(by_alias=True)
        try:
            text = to_json(data, inf_nan_mode="constants", serialize_unknown=True)
        except PydanticSerializationError:  # a lone surrogate somewhere: UTF-8 cannot encode it
            text = to_json(_scrub_surrogates(data), inf_nan_mode="constants", serialize_unknown=True)
        return text.decode("utf-8") + "\n"


def _scrub_surrogates(value: Any) -> Any:
    """``value`` with every string made UTF-8-safe: a surrogate pair becomes its character, a lone one U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, dict):
        return {_scrub_surrogates(k): _scrub_surrogates(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_surrogates(v) for v in value]
    return value


@dataclass(frozen=True)
class LineProblem:
    """A line that was skipped, and why (a torn last line is the normal trace of a crash mid-write)."""

    line: int
    reason: str
    torn: bool = False

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ReadResult:
    records: list[EpisodeRecord] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)
    lines: list[int] = field(default_factory=list, repr=False)
    """The line number of each record (so a later check, such as replay's, can name the line it refuses)."""

    def __iter__(self) -> Iterator[EpisodeRecord]:
        return iter(self.records)


def _check_line(number: int, text: str, last: bool) -> EpisodeRecord | LineProblem:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if last:
            return LineProblem(number, "torn last line (a write interrupted by a crash); --resume reruns it", True)
        return LineProblem(number, f"not JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:  # no record opsgym writes nests this deep: a foreign or hostile line
        return LineProblem(number, "JSON nested too deeply to be an episode record")
    if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA:
        return LineProblem(number, f"not an opsgym episode record (no \"schema\": \"{RECORD_SCHEMA}\")")
    version = data.get("version")
    if not isinstance(version, int) or version > RECORD_VERSION:
        return LineProblem(number, f"record version {version!r} is newer than this opsgym reads ({RECORD_VERSION}); "
                                   "upgrade opsgym to read it")
    try:
        return _validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        return LineProblem(number, f"invalid episode record: field {where}: {err['msg']}")


def _validate(data: dict[str, Any]) -> EpisodeRecord:
    """Validate a parsed line, reading a ``null`` that a float field refuses as NaN.

    Why: opsgym versions before :meth:`EpisodeRecord.to_json_line` kept non-finite numbers wrote NaN and ±infinity as
    ``null`` (pydantic's default), so such a null is the trace of a non-finite value (an infinity's sign is lost), not
    damage; reading it keeps those runs' episodes done for ``--resume``.
    """
    try:
        return EpisodeRecord.model_validate(data)
    except ValidationError as exc:
        nulls = [e["loc"] for e in exc.errors() if e["type"] == "float_type" and e["input"] is None and e["loc"]]
        if not nulls:
            raise
    for loc in nulls:
        parent: Any = data
        try:
            for part in loc[:-1]:
                parent = parent[part]
            parent[loc[-1]] = math.nan
        except (KeyError, IndexError, TypeError):
            continue  # not a plain path into the data (a union branch): validation below reports the field
    return EpisodeRecord.model_validate(data)


def read_records(path: str | os.PathLike[str]) -> ReadResult:
    """Read every record of a JSONL file; bad lines become :class:`LineProblem` entries, never exceptions.

    A missing file reads as empty (a run that has not finished an episode yet).
    """
    result = ReadResult()
    path = Path(path)
    if not path.exists():
        return result
    data = path.read_bytes()
    lines = data.split(b"\n")
    complete = data.endswith(b"\n")
    if complete:
        lines.pop()  # the empty string after the final newline
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        last = number == len(lines) and not complete
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            result.problems.append(LineProblem(number, "not UTF-8 text", torn=last))
            continue
        item = _check_line(number, text, last)
        if isinstance(item, LineProblem):
            result.problems.append(item)
        else:
            result.records.append(item)
            result.lines.append(number)
    return result


class RecordWriter:
    """Appends records to a JSONL file, durably: each line is flushed and fsynced before ``write`` returns.

    Opening repairs a torn tail (the partial line a crash left) by ending it with a newline, so the next record starts
    on a line of its own and the reader can report the fragment by its line number.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")
        if self._file.tell() > 0:
            with open(self.path, "rb") as tail:
                tail.seek(-1, os.SEEK_END)
                if tail.read(1) != b"\n":
                    self._file.write(b"\n")
                    self._sync()

    def _sync(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())

    def write(self, record: EpisodeRecord) -> None:
        self._file.write(record.to_json_line().encode("utf-8"))
        self._sync()

    def write_all(self, records: Iterable[EpisodeRecord]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
