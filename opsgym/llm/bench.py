"""``opsgym bench``: the seed's Tables 4–6 in shape, on whatever hardware is here, from one recorded trace.

Every configuration replays the same trace with output lengths forced to the recorded ones, so rows differ only in
how the inference stack does the work: the naive transformers loop (recompute the whole history every turn, the
seed's baseline), opsgym's transformers prefix cache, and vLLM with prefix caching off/on, continuous batching and
n-gram speculation. A last section runs N copies of the trace at once on one vLLM server against one copy alone: the
seed's point that batching only pays when several agents share a server. A configuration that cannot run here
(no vLLM venv, no GPU) is listed with the reason, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from opsgym.errors import OpsGymError
from opsgym.llm.base import create_backend
from opsgym.llm.pricing import PRICES, get_price
from opsgym.llm.replay import ReplayResult, replay, replay_concurrent
from opsgym.llm.telemetry import LLMCall
from opsgym.llm.vllm_backend import metrics_delta

__all__ = ["DEFAULT_CONFIGS", "BenchReport", "BenchRow", "run_bench"]

DEFAULT_CONFIGS: list[tuple[str, str]] = [
    ("HF naive (baseline)", "hf-naive"),
    ("HF prefix cache", "hf-prefix"),
    ("vLLM serial, no prefix cache", "vllm:serial,prefix_caching=off"),
    ("vLLM serial", "vllm:serial"),
    ("vLLM full", "vllm:full"),
    ("vLLM + n-gram spec", "vllm:spec-ngram"),
]
"""(label, ``--llm`` spec) rows of the default run."""

CONCURRENCY_SPEC = "vllm:full"


@dataclass
class BenchRow:
    """One configuration's totals over the trace (``None``: unknown or not applicable)."""

    label: str
    spec: str
    skipped: str = ""
    requests: int = 0
    prompt_tokens: int | None = None
    computed_prompt_tokens: int | None = None
    generated_tokens: int | None = None
    prefill_share: float | None = None
    prefix_hit_rate: float | None = None
    prefill_s: float | None = None
    decode_s: float | None = None
    ms_per_token: float | None = None
    tokens_per_s: float | None = None
    runtime_s: float | None = None
    cost_usd: float | None = None
    api_cost_usd: float | None = None
    spec_acceptance: float | None = None
    failed_requests: int = 0


@dataclass
class BenchReport:
    """All rows, the concurrency comparison, and the headline ratios (each against a baseline of the same run)."""

    trace: str
    turns: int
    rows: list[BenchRow] = field(default_factory=list)
    concurrency: dict[str, Any] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(label: str, spec: str, result: ReplayResult, server: dict[str, float] | None, price_name: Any) -> BenchRow:
    # The summary is a heterogeneous mapping (counts, rates, None for unknowns); its fields are read by name here.
    s: Mapping[str, Any] = result.summary()
    row = BenchRow(label=label, spec=spec, requests=s["requests"], prompt_tokens=s["prompt_tokens"],
                   computed_prompt_tokens=s["computed_prompt_tokens"], generated_tokens=s["completion_tokens"],
                   prefill_share=s["prefill_share"], prefix_hit_rate=s["prefix_reuse_rate"],
                   prefill_s=s["prefill_s"], decode_s=s["decode_s"], ms_per_token=s["ms_per_token"],
                   tokens_per_s=s["tokens_per_s"], runtime_s=result.wall_s, spec_acceptance=s["spec_acceptance_rate"],
                   failed_requests=s["failed_requests"])
    if server:  # the server's own counters beat per-call estimates
        queries = server.get("vllm:prefix_cache_queries_total")
        if queries:
            row.prefix_hit_rate = server.get("vllm:prefix_cache_hits_total", 0.0) / queries
        drafted = server.get("vllm:spec_decode_num_draft_tokens_total")
        if drafted:
            row.spec_acceptance = server.get("vllm:spec_decode_num_accepted_tokens_total", 0.0) / drafted
    price = get_price(price_name)
    row.cost_usd = price.time_cost(result.wall_s) if price is not None else None
    if row.prompt_tokens is not None and row.generated_tokens is not None:
        row.api_cost_usd = PRICES["gpt-4o"].tokens_cost(row.prompt_tokens, 0, row.generated_tokens)
    return row


def _metrics(backend: Any) -> dict[str, float] | None:
    scrape = getattr(backend, "metrics", None)
    return scrape() if callable(scrape) else None


def _warm_up(backend: Any) -> None:
    """One tiny request first, so one-off start-up work (first allocation, lazy init) is not charged to a row."""
    backend.chat([{"role": "user", "content": "ready?"}], max_tokens=2)


def _run_config(label: str, spec: str, calls: list[LLMCall], log: Any) -> BenchRow:
    try:
        backend = create_backend(spec)
    except OpsGymError as exc:
        log(f"  {label}: skipped ({exc})".splitlines()[0])
        return BenchRow(label=label, spec=spec, skipped=str(exc).splitlines()[0])
    try:
        _warm_up(backend)
        before = _metrics(backend)
        result = replay(backend, calls)
        after = _metrics(backend)
        server = metrics_delta(before, after) if before is not None and after is not None else None
        row = _row(label, spec, result, server, getattr(backend, "price", None))
    finally:
        backend.close()
    log(f"  {label}: {row.runtime_s:.1f} s, {row.computed_prompt_tokens} prompt tokens computed")
    return row


def _concurrency(calls: list[LLMCall], agents: int, log: Any) -> dict[str, Any]:
    try:
        backend = create_backend(CONCURRENCY_SPEC)
    except OpsGymError as exc:
        return {"skipped": str(exc).splitlines()[0]}
    try:
        _warm_up(backend)
        serial = replay_concurrent(backend, calls, 1, tag="solo").summary()
        together = replay_concurrent(backend, calls, agents, tag="agent").summary()
    finally:
        backend.close()
    log(f"  {agents} agents: {together['aggregate_tokens_per_s']:.1f} tok/s vs {serial['aggregate_tokens_per_s']:.1f}")
    return {"spec": CONCURRENCY_SPEC, "agents": agents, "serial": serial, "concurrent": together}


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ratios(rows: list[BenchRow], concurrency: dict[str, Any]) -> dict[str, float]:
    by_spec = {r.spec: r for r in rows if not r.skipped}
    out: dict[str, float | None] = {}
    for name, base, fast in (("hf", "hf-naive", "hf-prefix"), ("vllm", "vllm:serial,prefix_caching=off",
                                                               "vllm:serial")):
        if base in by_spec and fast in by_spec:
            b, f = by_spec[base], by_spec[fast]
            out[f"{name}_prompt_tokens_computed_x"] = _ratio(b.computed_prompt_tokens, f.computed_prompt_tokens)
            out[f"{name}_time_to_solution_x"] = _ratio(b.runtime_s, f.runtime_s)
            # The most any prefix reuse could buy on this trace and machine: the baseline with its prefill free and
            # everything else (decode above all) unchanged. A low ceiling says the pair is decode-bound.
            if b.runtime_s is not None and b.prefill_s is not None:
                out[f"{name}_time_to_solution_ceiling_x"] = _ratio(b.runtime_s, b.runtime_s - b.prefill_s)
    if "hf-naive" in by_spec and "vllm:serial" in by_spec:
        out["hf_naive_vs_vllm_serial_time_x"] = _ratio(by_spec["hf-naive"].runtime_s, by_spec["vllm:serial"].runtime_s)
    if "concurrent" in concurrency:
        out["concurrent_aggregate_tokens_per_s_x"] = _ratio(concurrency["concurrent"]["aggregate_tokens_per_s"],
                                                            concurrency["serial"]["aggregate_tokens_per_s"])
    return {k: v for k, v in out.items() if v is not None}


def run_bench(calls: list[LLMCall], *, trace: str = "", configs: list[tuple[str, str]] | None = None,
              agents: int = 8, concurrency_turns: int | None = None, log: Any = print) -> BenchReport:
    """Replay ``calls`` through every configuration, then the concurrency comparison (``agents`` = 0 skips it)."""
    report = BenchReport(trace=trace, turns=len(calls))
    for label, spec in configs if configs is not None else DEFAULT_CONFIGS:
        report.rows.append(_run_config(label, spec, calls, log))
    if agents > 1:
        report.concurrency = _concurrency(calls[:concurrency_turns] if concurrency_turns else calls, agents, log)
    report.ratios = _ratios(report.rows, report.concurrency)
    return report
