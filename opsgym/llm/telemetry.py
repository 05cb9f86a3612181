"""Inference telemetry: one :class:`LLMCall` per request, collected per episode in a :class:`Ledger`.

This is the seed's §4 made measurable: prompt vs generated tokens, cached (prefix-reused) prompt tokens, time to first
token, prefill vs decode time and cost for every call, so the scoring wrapper can compute CompEff/EconEff and reports
can show prefill share and prefix-reuse rates. A value a backend cannot know is ``None`` ("unknown"), never 0.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["LLMCall", "Ledger"]


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
    started_at: float | None = Field(None, description="unix time the request was sent")
    error: str = Field("", description="set when the call failed; infra_failure tells whose fault it was")
    infra_failure: bool = False

    @property
    def tokens_per_s(self) -> float | None:
        if self.completion_tokens is None or not self.decode_s:
            return None
        return self.completion_tokens / self.decode_s


def _sum(calls: list[LLMCall], field: str) -> float | None:
    values = [getattr(c, field) for c in calls]
    if not values or any(v is None for v in values):
        return None
    return sum(values)


class Ledger(BaseModel):
    """The calls of one episode. ``summary()`` gives the per-episode sums the metrics and reports use."""

    calls: list[LLMCall] = Field(default_factory=list)

    def record(self, call: LLMCall) -> None:
        self.calls.append(call)

    def clear(self) -> None:
        self.calls.clear()

    def summary(self) -> dict[str, Any]:
        """Per-episode sums; a sum is ``None`` when any call did not report that field."""
        calls = self.calls
        out: dict[str, Any] = {"requests": len(calls), "failed_requests": sum(1 for c in calls if c.error)}
        for f in ("prompt_tokens", "cached_prompt_tokens", "completion_tokens", "prefill_s", "decode_s",
                  "latency_s", "cost_usd", "spec_draft_tokens", "spec_accepted_tokens"):
            out[f] = _sum(calls, f)
        prompt, gen, cached = out["prompt_tokens"], out["completion_tokens"], out["cached_prompt_tokens"]
        out["prefill_share"] = prompt / (prompt + gen) if prompt is not None and gen is not None and prompt + gen else None
        out["prefix_reuse_rate"] = cached / prompt if cached is not None and prompt else None
        drafted, accepted = out["spec_draft_tokens"], out["spec_accepted_tokens"]
        out["spec_acceptance_rate"] = accepted / drafted if drafted and accepted is not None else None
        return out
