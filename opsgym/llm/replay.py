"""Replay recorded LLM traffic against any backend, so inference configurations are compared on identical work.

A trace is an episode-record file (``records.jsonl`` written by ``opsgym run``; :mod:`opsgym.record`): every LLM call
is kept with its exact messages, parameters and token counts. Replaying re-issues the same requests in the same order
and, by default, forces each output to the recorded length (``min_tokens = max_tokens = completion_tokens``,
``ignore_eos``), so the prompt and generation work are the same whatever the backend samples. Several copies can run
at once to measure N agents sharing one server; each copy gets a distinct first line so copies do not share prefix
cache entries the way N different incidents would not.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from opsgym.errors import LLMRequestError, OpsGymError
from opsgym.llm.base import ChatRequest, LLMBackend, request_from_call
from opsgym.llm.telemetry import Ledger, LLMCall

__all__ = ["ReplayResult", "bundled_trace", "load_trace", "replay", "replay_concurrent", "tag_requests"]


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
    episodes = [r for r in result.records if r.llm_calls]
    if not episodes:
        problems = "; ".join(str(p) for p in result.problems[:3])
        raise OpsGymError(f"{path} holds no episode with LLM calls{' (' + problems + ')' if problems else ''}; "
                          "record one with `opsgym run --agent react --llm …`")
    if not 0 <= episode < len(episodes):
        raise OpsGymError(f"{path} has {len(episodes)} episode(s) with LLM calls; --episode must be below that")
    calls = [c for c in episodes[episode].llm_calls if not c.error]
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


def replay(backend: LLMBackend, calls: list[LLMCall], *, force_length: bool = True) -> ReplayResult:
    """Re-issue ``calls`` one after another, as the recorded agent did."""
    ledger = Ledger()
    t0 = time.perf_counter()
    for call in calls:
        request = request_from_call(call, force_length=force_length)
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
    requests = [request_from_call(c, force_length=force_length) for c in calls]

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
