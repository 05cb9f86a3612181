"""The ``vllm`` backend: an OpenAI-compatible client bound to a vLLM server it launched (or attached to).

``--llm vllm:serial`` launches a server with that preset (``serial``/``full``/``spec-ngram``;
``,prefix_caching=off`` turns prefix caching off); ``--llm vllm:http://127.0.0.1:8000/v1`` attaches to a running
one. Besides the usage the server returns, each call reads ``/metrics`` before and after, so prefill, decode and
queue time and speculative-decoding acceptance come from the server's own counters. Those deltas are only trusted
when exactly this one request finished in between (no other client was using the server); otherwise the call keeps
the times measured on the stream.
"""

from __future__ import annotations

import time
from typing import Any

from opsgym.llm.base import ChatRequest, OnText
from opsgym.llm.openai_backend import OpenAIBackend
from opsgym.llm.pricing import Price
from opsgym.llm.telemetry import LLMCall
from opsgym.llm.vllm_server import VLLMServer, scrape_metrics

__all__ = ["VLLMBackend", "apply_metrics_delta", "metrics_delta"]

_DONE = "vllm:e2e_request_latency_seconds_count"


def metrics_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Counter differences between two scrapes (gauges are meaningless here but harmless)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items()}


def apply_metrics_delta(call: LLMCall, delta: dict[str, float]) -> None:
    """Fill a call's server-side timings from a ``/metrics`` delta that covers exactly this one request."""
    call.prefill_s = delta.get("vllm:request_prefill_time_seconds_sum", call.prefill_s)
    call.decode_s = delta.get("vllm:request_decode_time_seconds_sum", call.decode_s)
    call.queue_s = delta.get("vllm:request_queue_time_seconds_sum", call.queue_s)
    if call.cached_prompt_tokens is None and "vllm:prompt_tokens_cached_total" in delta:
        call.cached_prompt_tokens = int(delta["vllm:prompt_tokens_cached_total"])
    if "vllm:spec_decode_num_draft_tokens_total" in delta:
        call.spec_draft_tokens = int(delta["vllm:spec_decode_num_draft_tokens_total"])
        call.spec_accepted_tokens = int(delta.get("vllm:spec_decode_num_accepted_tokens_total", 0))


class VLLMBackend(OpenAIBackend):
    """A vLLM server behind the OpenAI client, with server-side telemetry.

    Args:
        target: a preset name (launch; default ``serial``) or a base URL (attach).
        prefix_caching: for a launched server.
        price: default ``l4`` on a GPU, ``cpu`` otherwise (hourly × busy time).
        server_options: passed to :class:`VLLMServer` (``model``, ``gpu``, ``venv``, ``max_model_len`` …).
        client_options: passed to :class:`OpenAIBackend` (``timeout``, ``max_retries`` …).
    """

    name = "vllm"

    def __init__(self, target: str | None = None, *, prefix_caching: bool = True, price: str | Price | None = None,
                 timeout: float = 300.0, max_retries: int = 3, backoff_s: float = 0.5, **server_options: Any):
        self.server: VLLMServer | None = None
        if target and target.startswith(("http://", "https://")):
            base_url, model = target, server_options.pop("model", None)
            self.config: dict[str, Any] = {"attached": base_url}
        else:
            self.server = VLLMServer(target or "serial", prefix_caching=prefix_caching, **server_options).start()
            base_url, model = self.server.base_url, self.server.served_model_name
            self.context_window = self.server.max_model_len
            self.config = {"preset": self.server.preset, "prefix_caching": prefix_caching, "gpu": self.server.gpu,
                           "command": self.server.command()}
        if price is None:
            price = "l4" if self.server is not None and self.server.gpu else "cpu"
        super().__init__(base_url, model=model, timeout=timeout, max_retries=max_retries, backoff_s=backoff_s,
                         price=price)
        self._in_flight = 0

    def metrics(self) -> dict[str, float]:
        """The server's current ``/metrics``, flattened (see :func:`scrape_metrics`)."""
        return scrape_metrics(self.base_url)

    def _scrape(self) -> dict[str, float] | None:
        try:
            return self.metrics()
        except Exception:  # telemetry is best effort; the completion itself decides success
            return None

    def complete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        alone = self._in_flight == 0
        self._in_flight += 1
        try:
            before = self._scrape() if alone else None
            call = super().complete(request, on_text)
        finally:
            self._in_flight -= 1
        if before is not None:
            self._refine(call, before)
        return call

    async def acomplete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        self._in_flight += 1  # concurrent calls share the server: per-call deltas would mix requests
        try:
            return await super().acomplete(request, on_text)
        finally:
            self._in_flight -= 1

    def _refine(self, call: LLMCall, before: dict[str, float]) -> None:
        """Apply the metrics delta once the server has counted this request (its stats land just after the reply)."""
        for _ in range(20):
            after = self._scrape()
            if after is None:
                return
            delta = metrics_delta(before, after)
            done = delta.get(_DONE, 0.0)
            if done == 1:
                apply_metrics_delta(call, delta)
                return
            if done > 1:  # someone else used the server meanwhile
                return
            time.sleep(0.05)

    def close(self) -> None:
        super().close()
        if self.server is not None:
            self.server.stop()
