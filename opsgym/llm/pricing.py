"""Price table for inference cost (EconEff, seed §2.2.4 and Table 6).

Two ways to pay for a call, as in the seed: self-hosted hardware billed by the hour (an L4 at about $0.80/h, so cost is
rate × busy time) and hosted APIs billed per token (a GPT-4o-class price, which the seed found ≈ 18× dearer on the same
SRE episode because prompt tokens dominate). The numbers are approximate list prices; pass your own
:class:`Price` where they matter.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from opsgym.errors import UnknownNameError
from opsgym.llm.telemetry import LLMCall

__all__ = ["PRICES", "Price", "call_cost", "get_price"]


class Price(BaseModel):
    """Either an hourly rate (self-hosted) or per-million-token prices (hosted API)."""

    usd_per_hour: float | None = Field(default=None, ge=0)
    input_per_mtok: float | None = Field(default=None, ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0, description="defaults to the input price")
    output_per_mtok: float | None = Field(default=None, ge=0)

    def tokens_cost(self, prompt: int, cached: int, generated: int) -> float | None:
        """Per-token cost; ``None`` for an hourly price."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        cached_rate = self.cached_input_per_mtok if self.cached_input_per_mtok is not None else self.input_per_mtok
        return ((prompt - cached) * self.input_per_mtok + cached * cached_rate
                + generated * self.output_per_mtok) / 1e6

    def time_cost(self, seconds: float) -> float | None:
        """Hourly cost of ``seconds`` of exclusive use; ``None`` for a per-token price."""
        return None if self.usd_per_hour is None else self.usd_per_hour * seconds / 3600


PRICES: dict[str, Price] = {
    "l4": Price(usd_per_hour=0.80),  # the seed's commodity GPU
    "a10g": Price(usd_per_hour=1.00),
    "a100": Price(usd_per_hour=1.80),
    "h100": Price(usd_per_hour=2.50),
    "cpu": Price(usd_per_hour=0.08),  # a 2-vCPU cloud VM, the machines these numbers come from
    "gpt-4o": Price(input_per_mtok=2.50, cached_input_per_mtok=1.25, output_per_mtok=10.00),
    "gpt-4o-mini": Price(input_per_mtok=0.15, cached_input_per_mtok=0.075, output_per_mtok=0.60),
}
"""Named prices: pick one with a backend's ``price=`` option (``--llm vllm:serial,price=l4``)."""


def get_price(price: str | Price | None) -> Price | None:
    """Resolve a price name (see :data:`PRICES`) or pass a :class:`Price` through."""
    if price is None or isinstance(price, Price):
        return price
    if price not in PRICES:
        raise UnknownNameError("price", price, PRICES)
    return PRICES[price]


def call_cost(call: LLMCall, price: Price | None) -> float | None:
    """Cost of one completed call: tokens × per-token price, or latency × hourly rate; ``None`` if unknown."""
    if price is None or call.error:
        return None
    if price.usd_per_hour is not None:
        return price.time_cost(call.latency_s) if call.latency_s is not None else None
    if call.prompt_tokens is None or call.completion_tokens is None:
        return None
    return price.tokens_cost(call.prompt_tokens, call.cached_prompt_tokens or 0, call.completion_tokens)
