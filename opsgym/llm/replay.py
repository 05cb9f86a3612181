"""Replay recorded LLM traffic against any backend, so inference configurations are compared on identical work.

A trace is an episode-record file (``records.jsonl`` written by ``opsgym run``; :mod:`opsgym.record`): every LLM call
is kept with its exact messages, parameters and token counts. Replaying re-issues the same requests in the same order
and, by default, forces each output to the recorded length (``min_tokens = max_tokens = completion_tokens``,
``ignore_eos``), so the prompt and generation work are the same whatever the backend samples. Several copies can run
at once to measure N agents sharing one server; each copy gets a distinct first line so copies do not share prefix
cache entries the way N different incidents would not.

A record file is input, not trusted: replay forwards its token counts and parameters to a server, so every call is
checked before anything is sent (:func:`check_call`) — token counts whole numbers from 0 to :data:`MAX_TOKENS`, times
and costs finite and non-negative, parameters of the right type and range, messages with text roles and contents — and
a refusal names the file, the line, the call and the field.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opsgym.errors import LLMRequestError, OpsGymError
from opsgym.llm.base import ChatRequest, LLMBackend, request_from_call
from opsgym.llm.telemetry import Ledger, LLMCall

__all__ = ["MAX_TOKENS", "ReplayResult", "bundled_trace", "check_call", "load_trace", "replay", "replay_concurrent",
           "tag_requests"]

MAX_TOKENS = 10_000_000
"""The most tokens one recorded call may claim, prompt or generated: far above any model's context window, far below a
request that would tie a server up for days."""

_COUNTS = ("prompt_tokens", "cached_prompt_tokens", "completion_tokens", "spec_draft_tokens", "spec_accepted_tokens")
_AMOUNTS = ("queue_s", "ttft_s", "prefill_s", "decode_s", "latency_s", "cost_usd")
_PARAM_COUNTS = {"max_tokens": 1, "min_tokens": 0}  # the lowest value each may take
_SEED_LIMIT = 2**63


def _count(value: Any, low: int = 0, high: int = MAX_TOKENS) -> str | None:
    """Why ``value`` is not a token count (None: it is one, or it is absent)."""
    if value is None:
        return None
    if type(value) is not int:  # a bool, a string or a float is not a count, even where pydantic would coerce it
        return f"{value!r} is not a whole number"
    if not low <= value <= high:
        return f"{value:,} is out of range ({low:,} to {high:,})"
    return None


def _amount(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
        return f"{value!r} is not a finite, non-negative number"
    return None


def _call_problems(call: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = [(name, why) for name in _COUNTS if (why := _count(call.get(name)))]
    problems += [(name, why) for name in _AMOUNTS if (why := _amount(call.get(name)))]
    prompt, cached = call.get("prompt_tokens"), call.get("cached_prompt_tokens")
    if not problems and prompt is not None and cached is not None and cached > prompt:
        problems.append(("cached_prompt_tokens", f"{cached:,} is more than prompt_tokens ({prompt:,})"))
    params = call.get("params") or {}
    if not isinstance(params, Mapping):
        return [*problems, ("params", "is not an object")]
    problems += [(f"params.{name}", why) for name, low in _PARAM_COUNTS.items()
                 if (why := _count(params.get(name), low))]
    seed = params.get("seed")
    if seed is not None and (why := _count(seed, -_SEED_LIMIT, _SEED_LIMIT - 1)):
        problems.append(("params.seed", why))
    problems += [(f"params.{name}", why) for name in ("temperature", "top_p") if (why := _amount(params.get(name)))]
    messages = call.get("messages")
    if not isinstance(messages, list):
        return [*problems, ("messages", "is not a list")]
    for j, message in enumerate(messages):
        for key in ("role", "content"):
            if not isinstance(message, Mapping) or not isinstance(message.get(key), str):
                problems.append((f"messages[{j}].{key}", "is not text"))
    return problems


def check_call(call: Mapping[str, Any] | LLMCall, where: str, *, force_length: bool = True) -> ChatRequest:
    """The request replay would send for a recorded call, after checking everything it would forward.

    Args:
        call: the call as read from the file (its JSON object, so that types are checked as written) or an LLMCall.
        where: how to name the call in an error, e.g. ``"records.jsonl line 3: llm_calls[2]"``.
        force_length: as in :func:`~opsgym.llm.base.request_from_call`.

    Raises:
        OpsGymError: a usage value or parameter is of the wrong type or out of range; the message names the field.
    """
    data = call.model_dump() if isinstance(call, LLMCall) else call
    problems = _call_problems(data)
    if not problems:
        try:
            return request_from_call(LLMCall.model_validate(data), force_length=force_length)
        except ValidationError as exc:  # a parameter the request model refuses (e.g. top_p above 1)
            error = exc.errors()[0]
            problems = [(".".join(["params", *(str(p) for p in error["loc"])]), error["msg"])]
    field_name, why = problems[0]
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    raise OpsGymError(f"{where}.{field_name}: {why}{more}; replay refuses to forward it — fix or remove that record")


def bundled_trace() -> Path:
    """The recorded SRE episode shipped with opsgym (``opsgym/llm/traces/``)."""
    return Path(str(resources.files("opsgym.llm") / "traces" / "sre-1-react-smollm2.jsonl"))


def load_trace(path: str | Path | None = None, *, episode: int = 0, turns: int | None = None) -> list[LLMCall]:
    """The completed LLM calls of one episode in a record file (default: the bundled trace).

    Failed calls are left out: they did no work a replay could repeat.
    """
    from opsgym.record import read_records

    path = Path(path) if path is not None else bundled_trace()
    result = read_records(path)
    episodes = [(r, line) for r, line in zip(result.records, result.lines, strict=True) if r.llm_calls]
    if not episodes:
        problems = "; ".join(str(p) for p in result.problems[:3])
        raise OpsGymError(f"{path} holds no episode with LLM calls{' (' + problems + ')' if problems else ''}; "
                          "record one with `opsgym run --agent react --llm …`")
    if not 0 <= episode < len(episodes):
        raise OpsGymError(f"{path} has {len(episodes)} episode(s) with LLM calls; --episode must be below that")
    record, line = episodes[episode]
    raw = json.loads(path.read_bytes().split(b"\n")[line - 1])  # the line as written: types before any coercion
    for index, call in enumerate(raw["llm_calls"]):
        if not record.llm_calls[index].error:
            check_call(call, f"{path} line {line}: llm_calls[{index}]")
    calls = [c for c in record.llm_calls if not c.error]
    return calls[:turns] if turns else calls


def tag_requests(requests: list[ChatRequest], tag: str) -> list[ChatRequest]:
    """Prefix the first message of every request with ``tag`` (one distinct conversation per concurrent agent)."""
    out = []
    for request in requests:
        messages = [dict(m) for m in request.messages]
        if messages:
            messages[0]["content"] = f"{tag}\n{messages[0].get('content', '')}"
        out.append(request.model_copy(update={"messages": messages}))
    return out


@dataclass
class ReplayResult:
    """The ledgers of one replay (one per agent) and its wall-clock time."""

    ledgers: list[Ledger] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def calls(self) -> list[LLMCall]:
        return [c for ledger in self.ledgers for c in ledger.calls]

    def summary(self) -> dict[str, object]:
        """The :meth:`Ledger.summary` of all calls together, with ``wall_s`` and aggregate generated tokens/s."""
        merged = Ledger(calls=self.calls).summary()
        generated = merged.get("completion_tokens") or 0
        merged["wall_s"] = self.wall_s
        merged["agents"] = len(self.ledgers)
        merged["aggregate_tokens_per_s"] = generated / self.wall_s if self.wall_s else None
        return merged


def _record_failure(ledger: Ledger, exc: LLMRequestError, request: ChatRequest) -> None:
    """A failed request stays in the ledger (counted in ``failed_requests``); the replay goes on."""
    call = exc.call if isinstance(exc.call, LLMCall) else LLMCall(backend="?", error=str(exc), infra_failure=True)
    ledger.record(call if call.messages else call.model_copy(update={"messages": request.messages}))


def _requests(calls: list[LLMCall], force_length: bool) -> list[ChatRequest]:
    """Every call checked (nothing is sent if one is refused), then rebuilt as the request to send."""
    return [check_call(call, f"call {index}", force_length=force_length) for index, call in enumerate(calls)]


def replay(backend: LLMBackend, calls: list[LLMCall], *, force_length: bool = True) -> ReplayResult:
    """Re-issue ``calls`` one after another, as the recorded agent did."""
    ledger = Ledger()
    requests = _requests(calls, force_length)
    t0 = time.perf_counter()
    for request in requests:
        try:
            ledger.record(backend.complete(request))
        except LLMRequestError as exc:
            _record_failure(ledger, exc, request)
    return ReplayResult([ledger], time.perf_counter() - t0)


def replay_concurrent(backend: LLMBackend, calls: list[LLMCall], agents: int, *, force_length: bool = True,
                      tag: str = "agent") -> ReplayResult:
    """``agents`` copies of the trace at once, each serial within itself (an agent waits for its answer).

    Copy ``k`` is tagged ``[<tag> k]``; use another ``tag`` for a later run on the same server so it finds nothing
    of the earlier one in the prefix cache.
    """
    requests = _requests(calls, force_length)

    async def one(tagged: list[ChatRequest]) -> Ledger:
        ledger = Ledger()
        for request in tagged:
            try:
                ledger.record(await backend.acomplete(request))
            except LLMRequestError as exc:
                _record_failure(ledger, exc, request)
        return ledger

    async def all_agents() -> list[Ledger]:
        return list(await asyncio.gather(*(one(tag_requests(requests, f"[{tag} {k}]")) for k in range(agents))))

    t0 = time.perf_counter()
    ledgers = asyncio.run(all_agents())
    return ReplayResult(ledgers, time.perf_counter() - t0)
