"""Inference telemetry: one :class:`LLMCall` per request, collected per episode in a :class:`Ledger`.

This is the seed's §4 made measurable: prompt vs generated tokens, cached (prefix-reused) prompt tokens, time to first
token, prefill vs decode time and cost for every call, so the scoring wrapper can compute CompEff/EconEff and reports
can show prefill share and prefix-reuse rates. A value a backend cannot know is ``None`` ("unknown"), never 0.

One channel: an env owns its episode's :class:`Ledger` (:func:`ledger_of` is the one place anybody reads it), and the
agent loop binds it with :func:`recording` around each agent turn. Code that makes an LLM call records it with
:func:`record_call`, which writes into the ledger bound in the current context, so no ledger is passed around by hand.
Why a context variable and not a global: two envs interleaved in one thread (each turn bound to its own env) and
episodes in several threads (each thread has its own context) never mix their calls. A thread an agent starts itself
starts with an empty context: record from the thread that called ``act``, or run the worker in
``contextvars.copy_context()``. Worker processes bind their own episodes; nothing crosses a process boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["LLMCall", "Ledger", "current_ledger", "ledger_of", "record_call", "recording"]


class LLMCall(BaseModel):
    """One LLM request, with its exact messages and output so it can be replayed."""

    backend: str
    model: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    output: str = ""
    params: dict[str, Any] = Field(default_factory=dict, description="max_tokens, temperature, stop …")
    prompt_tokens: int | None = None
    cached_prompt_tokens: int | None = None
    completion_tokens: int | None = None
    queue_s: float | None = None
    ttft_s: float | None = None
    prefill_s: float | None = None
    decode_s: float | None = None
    latency_s: float | None = None
    spec_draft_tokens: int | None = None
    spec_accepted_tokens: int | None = None
    cost_usd: float | None = None
    started_at: float | None = Field(default=None, description="unix time the request was sent")
    error: str = Field(default="", description="set when the call failed; infra_failure tells whose fault it was")
    infra_failure: bool = False
    retries: int = Field(default=0, description="attempts repeated after retryable errors (429, 5xx, connection)")

    @property
    def computed_prompt_tokens(self) -> int | None:
        """Prompt tokens the backend actually had to prefill (the rest came from a prefix cache)."""
        if self.prompt_tokens is None:
            return None
        return self.prompt_tokens - (self.cached_prompt_tokens or 0)

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed: generated tokens per second of decode time."""
        if self.completion_tokens is None or not self.decode_s:
            return None
        return self.completion_tokens / self.decode_s

    @property
    def ended_at(self) -> float | None:
        if self.started_at is None or self.latency_s is None:
            return None
        return self.started_at + self.latency_s


def _sum(calls: list[LLMCall], field: str) -> float | None:
    """Sum over the calls that completed (a failed call did no measurable work); ``None`` if any left it unknown."""
    values = [getattr(c, field) for c in calls if not c.error]
    if not values or any(v is None for v in values):
        return None
    return sum(values)


class Ledger(BaseModel):
    """The calls of one episode. ``summary()`` gives the per-episode sums the metrics and reports use.

    Summary keys: ``requests``, ``failed_requests``, ``infra_failures``, sums of every token/time/cost field,
    ``prefill_share`` (prompt / all tokens), ``prefix_reuse_rate`` (cached / prompt), ``computed_prompt_tokens``,
    ``spec_acceptance_rate``, ``tokens_per_s`` and ``ms_per_token`` (decode), ``time_to_solution_s`` (first request
    to last answer).
    """

    calls: list[LLMCall] = Field(default_factory=list)

    def record(self, call: LLMCall) -> None:
        self.calls.append(call)

    def clear(self) -> None:
        self.calls.clear()

    def summary(self) -> dict[str, Any]:
        """Per-episode sums over completed calls; a sum is ``None`` when any of them did not report that field."""
        calls = self.calls
        out: dict[str, Any] = {"requests": len(calls), "failed_requests": sum(1 for c in calls if c.error)}
        for f in ("prompt_tokens", "cached_prompt_tokens", "completion_tokens", "prefill_s", "decode_s",
                  "latency_s", "cost_usd", "spec_draft_tokens", "spec_accepted_tokens"):
            out[f] = _sum(calls, f)
        prompt, gen, cached = out["prompt_tokens"], out["completion_tokens"], out["cached_prompt_tokens"]
        known = prompt is not None and gen is not None
        out["prefill_share"] = prompt / (prompt + gen) if known and prompt + gen else None
        out["prefix_reuse_rate"] = cached / prompt if cached is not None and prompt else None
        out["computed_prompt_tokens"] = prompt - cached if prompt is not None and cached is not None else None
        drafted, accepted = out["spec_draft_tokens"], out["spec_accepted_tokens"]
        out["spec_acceptance_rate"] = accepted / drafted if drafted and accepted is not None else None
        decode = out["decode_s"]
        out["tokens_per_s"] = gen / decode if gen is not None and decode else None
        out["ms_per_token"] = 1000 * decode / gen if gen and decode is not None else None
        out["infra_failures"] = sum(1 for c in calls if c.infra_failure)
        out["time_to_solution_s"] = _span(calls)
        return out


def _span(calls: list[LLMCall]) -> float | None:
    """Wall-clock seconds from the first request sent to the last answer received (the LLM side of an episode)."""
    starts = [c.started_at for c in calls if c.started_at is not None]
    ends = [c.ended_at for c in calls if c.ended_at is not None]
    if not starts or not ends:
        return None
    return max(ends) - min(starts)


_CURRENT: ContextVar[Ledger | None] = ContextVar("opsgym_ledger", default=None)


def ledger_of(env: Any) -> Ledger | None:
    """The ledger of ``env``'s current episode (kept by the unwrapped env, cleared at its reset), or ``None``."""
    ledger = getattr(getattr(env, "unwrapped", env), "ledger", None)
    return ledger if isinstance(ledger, Ledger) else None


def current_ledger() -> Ledger | None:
    """The ledger bound in this context by :func:`recording`, or ``None`` outside any episode."""
    return _CURRENT.get()


@contextmanager
def recording(ledger: Ledger | None) -> Iterator[Ledger | None]:
    """Bind ``ledger`` as the current one for the block (``None`` binds none), restoring the previous binding after."""
    token = _CURRENT.set(ledger)
    try:
        yield ledger
    finally:
        _CURRENT.reset(token)


def record_call(call: LLMCall) -> None:
    """Record ``call`` in the current episode's ledger; outside an episode (nothing bound) it is not kept."""
    ledger = _CURRENT.get()
    if ledger is not None:
        ledger.record(call)
