"""Per-call telemetry, per-episode sums and the price table (seed Table 6 as the worked example)."""

from __future__ import annotations

import pytest

from opsgym.errors import UnknownNameError
from opsgym.llm.pricing import PRICES, Price, call_cost, get_price
from opsgym.llm.telemetry import Ledger, LLMCall


def call(**fields) -> LLMCall:
    return LLMCall(backend="b", **fields)


def test_summary_sums_rates_and_time_to_solution():
    ledger = Ledger()
    ledger.record(call(prompt_tokens=1000, cached_prompt_tokens=0, completion_tokens=10, prefill_s=2.0, decode_s=0.5,
                       latency_s=2.5, started_at=100.0, cost_usd=0.01))
    ledger.record(call(prompt_tokens=1100, cached_prompt_tokens=1000, completion_tokens=30, prefill_s=0.2,
                       decode_s=1.5, latency_s=1.7, started_at=110.0, cost_usd=0.02))
    s = ledger.summary()
    assert (s["requests"], s["prompt_tokens"], s["completion_tokens"], s["computed_prompt_tokens"]) == (2, 2100, 40,
                                                                                                         1100)
    assert s["prefill_share"] == pytest.approx(2100 / 2140)
    assert s["prefix_reuse_rate"] == pytest.approx(1000 / 2100)
    assert s["tokens_per_s"] == pytest.approx(40 / 2.0) and s["ms_per_token"] == pytest.approx(50.0)
    assert s["time_to_solution_s"] == pytest.approx(11.7)  # first request sent → last answer received
    assert s["cost_usd"] == pytest.approx(0.03)


def test_failed_calls_are_counted_but_not_summed():
    ledger = Ledger(calls=[call(prompt_tokens=10, completion_tokens=2, cached_prompt_tokens=0),
                           call(error="ConnectError: refused", infra_failure=True)])
    s = ledger.summary()
    assert (s["requests"], s["failed_requests"], s["infra_failures"], s["prompt_tokens"]) == (2, 1, 1, 10)


def test_unknown_stays_unknown():
    s = Ledger(calls=[call(prompt_tokens=10, completion_tokens=2)]).summary()
    assert s["cached_prompt_tokens"] is None and s["prefix_reuse_rate"] is None and s["spec_acceptance_rate"] is None
    assert call().computed_prompt_tokens is None and call().tokens_per_s is None


def test_spec_acceptance_rate():
    s = Ledger(calls=[call(spec_draft_tokens=80, spec_accepted_tokens=66)]).summary()
    assert s["spec_acceptance_rate"] == pytest.approx(66 / 80)


def test_seed_table6_costs():
    # 93 requests, 648,971 prompt + 8,301 generated tokens in 422 s on an L4 (seed §4.4.5).
    episode = call(prompt_tokens=648_971, completion_tokens=8_301, latency_s=422.0)
    l4 = call_cost(episode, PRICES["l4"])
    api = call_cost(episode, PRICES["gpt-4o"])
    assert l4 == pytest.approx(0.094, abs=0.001)
    assert api == pytest.approx(1.70, abs=0.02)
    assert 17 < api / l4 < 19  # the seed's "≈ 18× more"


def test_cached_tokens_use_the_cached_price():
    price = Price(input_per_mtok=2.0, cached_input_per_mtok=1.0, output_per_mtok=4.0)
    assert price.tokens_cost(prompt=1_000_000, cached=500_000, generated=0) == pytest.approx(1.5)
    assert call_cost(call(prompt_tokens=10, completion_tokens=1, error="x"), price) is None


def test_price_names():
    assert get_price("l4").usd_per_hour == 0.80
    with pytest.raises(UnknownNameError, match="gpt-4o"):
        get_price("gpt4o")
