"""The episode record: the one thing reports, replay and ``--resume`` read.

One :class:`EpisodeRecord` per finished episode attempt, appended as one JSON line to ``records.jsonl`` and fsynced
before the next episode is counted as done, so a crash (even ``kill -9``) loses at most the episodes still running.
A record keeps everything needed to judge, recompute or replay an episode without the env: the run spec (what ran,
with which versions), every step with its timings and the exact LLM calls, the env's :class:`~opsgym.outcome.Outcome`
(facts and ground truth), the metrics with their raw inputs, and an error that says whose fault a failure was.

Each step is stored once (version 2): a :class:`StepRecord` is the env's :class:`~opsgym.outcome.ActionRecord` (one
truncation rule, one hash: :func:`~opsgym.outcome.clip`, :func:`~opsgym.outcome.text_sha256`) joined with what only
the runner saw (reward, timings, the step's LLM calls). The line leaves out ``outcome.actions`` when they are exactly
the steps' env half, and reading rebuilds them, so scoring sees the same outcome. Version 1 lines, which stored the
runner's steps beside the outcome's actions, are converted when read.

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

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticSerializationError, to_json

from opsgym.llm.telemetry import LLMCall
from opsgym.outcome import ActionClass, ActionRecord, Outcome, clip

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
RECORD_VERSION = 2
"""Version of the episode record (not of the metrics in it: :data:`opsgym.scoring.scorer.METRICS_VERSION`).
1: runner steps and ``outcome.actions`` both stored; 2: each step stored once."""

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
    llm: str | None = Field(default=None, description="LLM backend spec, e.g. 'openai:http://127.0.0.1:8000/v1'")
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


_ACTION_FIELDS = frozenset(ActionRecord.model_fields)
_RUNNER_FIELDS = ("observation_chars", "reward", "agent_s", "env_s", "llm_call_ids")


class StepRecord(ActionRecord):
    """One step, stored once: the env's :class:`ActionRecord` joined with what only the runner saw."""

    # widened to allow "": the episode may end (an agent failure) before the env reports the step's class
    cls: Literal[ActionClass, ""] = Field(  # type: ignore[assignment]  # one Literal: one error location
        default="", description="action class from the outcome; empty if the env never reported the step")
    observation_chars: int = Field(default=0, description="the whole observation's length (the record keeps clip())")
    reward: float = 0.0
    agent_s: float = Field(default=0.0, description="time inside agent.act (LLM calls included)")
    env_s: float = Field(default=0.0, description="time inside env.step, wrappers included")
    llm_call_ids: list[int] = Field(default_factory=list, description="indices into EpisodeRecord.llm_calls")

    def joined(self, action: ActionRecord) -> StepRecord:
        """This step with the env's record of it: the env's fields win where the env set them."""
        return StepRecord.model_validate({**self.model_dump(), **action.model_dump(exclude_defaults=True)})

    def action_record(self) -> ActionRecord | None:
        """The env's half of the step (``None`` while the env has not classified it)."""
        if not self.cls:
            return None
        return ActionRecord.model_validate(self.model_dump(include=set(_ACTION_FIELDS)))


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 record as version 2: each runner step joined with the outcome's action of the same position.

    Version 1 kept the runner's copy of each observation (16 KiB) beside the env's (4 KiB), each with its own hash of
    the same text; the join keeps the env's and clips a step the env never reported by the same rule.
    """
    outcome = data.get("outcome")
    actions = outcome.get("actions", []) if isinstance(outcome, dict) else []
    steps = []
    for i, step in enumerate(data.get("steps") or []):
        if not isinstance(step, dict):
            steps.append(step)  # validation reports it
            continue
        env_half = actions[i] if i < len(actions) and isinstance(actions[i], dict) else None
        if env_half is not None:
            step = {**step, **env_half, **{k: step[k] for k in _RUNNER_FIELDS if k in step}}
        else:
            step = {**step, **{k: clip(step[k]) for k in ("action", "observation") if isinstance(step.get(k), str)}}
        steps.append(step)
    return {**data, "steps": steps, "version": RECORD_VERSION}


class EpisodeError(BaseModel):
    """Why an attempt failed, and whose fault it was."""

    kind: ErrorKind
    type: str
    message: str
    where: str = Field(default="", description="make, reset, agent.reset, act, step, worker, llm")
    step: int | None = None
    traceback: str = ""


class EpisodeRecord(BaseModel):
    """One attempt at one planned episode (versioned; readers check ``schema`` and ``version``)."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    schema_: str = Field(default=RECORD_SCHEMA, alias="schema")
    version: int = RECORD_VERSION
    status: EpisodeStatus
    spec: RunSpec
    attempt: int = 1
    worker: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    duration_s: float = 0.0
    reset_s: float = 0.0
    observation0: str = Field(default="", description="the first observation (alert text and tools)")
    steps: list[StepRecord] = Field(default_factory=list)
    llm_calls: list[LLMCall] = Field(default_factory=list, description="every LLM call, in order, messages included")
    llm_summary: dict[str, Any] = Field(default_factory=dict, description="Ledger.summary(): sums and rates")
    reward: float = Field(default=0.0, description="the final step's reward (TaskEfficacy under the scoring wrapper)")
    total_reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    outcome: Outcome | None = Field(default=None, description="facts of the episode, ground truth included")
    metrics: dict[str, Any] = Field(default_factory=dict, description="scores and their raw inputs")
    error: EpisodeError | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_steps_once(cls, data: Any) -> Any:
        """Convert a version-1 line; give a version-2 outcome its actions back from the steps."""
        if not isinstance(data, dict):
            return data
        if data.get("version") == 1:
            return _upgrade_v1(data)
        outcome = data.get("outcome")
        if isinstance(outcome, dict) and "actions" not in outcome and isinstance(data.get("steps"), list):
            steps = [step.model_dump() if isinstance(step, BaseModel) else step for step in data["steps"]]
            actions = [{k: v for k, v in step.items() if k in _ACTION_FIELDS} if isinstance(step, dict) else step
                       for step in steps]
            data = {**data, "outcome": {**outcome, "actions": actions}}
        return data

    @model_serializer(mode="wrap")
    def _store_steps_once(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave ``outcome.actions`` out when the steps hold them already (the usual case), so each step is stored
        once; an env whose actions differ from what the runner saw keeps both."""
        data: dict[str, Any] = handler(self)
        outcome = data.get("outcome")
        if isinstance(outcome, dict) and self.outcome is not None and self.steps \
                and self.outcome.actions == [step.action_record() for step in self.steps]:
            del outcome["actions"]
        return data

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
