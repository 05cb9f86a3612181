"""The ``openai`` backend: any OpenAI-compatible chat server (vLLM, llama.cpp server, Ollama, hosted APIs).

Every request streams, so time to first token is measured on the wire rather than guessed; usage (prompt, cached and
generated tokens) comes from the server's final usage chunk. Retryable failures (429, 5xx, connection errors,
timeouts, malformed replies) are retried with exponential backoff; when retries run out the call is raised as
:class:`~opsgym.errors.LLMRequestError` carrying the failed :class:`LLMCall`, so a runner records an infrastructure
failure instead of blaming the agent.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from opsgym.errors import LLMRequestError
from opsgym.llm.base import BaseLLMBackend, ChatRequest, OnText
from opsgym.llm.pricing import Price, call_cost, get_price
from opsgym.llm.telemetry import LLMCall

__all__ = ["DEFAULT_BASE_URL", "OpenAIBackend"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


def _classify(exc: Exception) -> tuple[bool, bool]:
    """(retryable, infrastructure's fault) for an exception raised while talking to the server."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry = status == 429 or status >= 500
        return retry, retry or status in (401, 403, 404)  # a bad key or a wrong model name is a setup problem
    # connection refused/reset, timeouts, unparseable JSON or SSE, responses missing fields
    return True, True


class _Stream:
    """Accumulates one streamed completion into an :class:`LLMCall` (shared by the sync and async paths)."""

    def __init__(self, backend: OpenAIBackend, request: ChatRequest, on_text: OnText | None):
        self.backend, self.request, self.on_text = backend, request, on_text
        self.started_at, self.t0 = time.time(), time.perf_counter()
        self.parts: list[str] = []
        self.ttft: float | None = None
        self.usage: Any = None
        self.chunks = 0

    def feed(self, chunk: Any) -> None:
        self.chunks += 1
        if getattr(chunk, "usage", None) is not None:
            self.usage = chunk.usage
        for choice in chunk.choices or []:
            piece = choice.delta.content if choice.delta is not None else None
            if piece:
                if self.ttft is None:
                    self.ttft = time.perf_counter() - self.t0
                self.parts.append(piece)
                if self.on_text is not None:
                    self.on_text(piece)

    def finish(self, retries: int) -> LLMCall:
        if not self.chunks:
            raise ValueError("the server answered without any completion chunk (not an OpenAI-compatible stream)")
        latency = time.perf_counter() - self.t0
        usage = self.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage is not None else None
        ttft = self.ttft if self.ttft is not None else latency
        call = LLMCall(
            backend=self.backend.name, model=self.backend.model, messages=self.request.messages,
            output="".join(self.parts), params=self.request.params(), started_at=self.started_at,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            cached_prompt_tokens=getattr(details, "cached_tokens", None), ttft_s=ttft, latency_s=latency,
            prefill_s=ttft, decode_s=latency - ttft,  # measured on the wire; the vllm backend refines from /metrics
            retries=retries,
        )
        call.cost_usd = call_cost(call, self.backend.price)
        return call

    def failed(self, exc: Exception, infra: bool, retries: int) -> LLMRequestError:
        call = LLMCall(
            backend=self.backend.name, model=self.backend.model, messages=self.request.messages,
            output="".join(self.parts), params=self.request.params(), started_at=self.started_at,
            latency_s=time.perf_counter() - self.t0, error=f"{type(exc).__name__}: {exc}", infra_failure=infra,
            retries=retries,
        )
        where = self.backend.base_url
        return LLMRequestError(f"LLM request to {where} failed after {retries + 1} attempt(s): {call.error}. "
                               f"Check that the server is up and serves model {self.backend.model!r}.", call)


class OpenAIBackend(BaseLLMBackend):
    """An OpenAI-compatible server.

    Args:
        target: base URL (``http://127.0.0.1:8000/v1``); default ``$OPENAI_BASE_URL`` or that URL.
        model: served model name; default: the first model the server lists.
        api_key: default ``$OPENAI_API_KEY`` or ``"EMPTY"`` (local servers ignore it).
        timeout: seconds to wait for the next bytes of a reply (a hung request fails after this).
        connect_timeout: seconds to wait for a connection.
        max_retries: retries after a retryable failure (429, 5xx, connection, timeout, malformed reply).
        backoff_s: first backoff; doubles on every retry.
        price: a :data:`~opsgym.llm.pricing.PRICES` name or :class:`Price`; ``None`` leaves cost unknown.
    """

    name = "openai"

    def __init__(self, target: str | None = None, *, model: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0, connect_timeout: float = 5.0, max_retries: int = 3, backoff_s: float = 0.5,
                 price: str | Price | None = None):
        import httpx
        import openai

        self.base_url = target or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        self.model = model or ""
        self.max_retries, self.backoff_s = max_retries, backoff_s
        self.price = get_price(price)
        self.config = {**getattr(self, "config", {}), "base_url": self.base_url}
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        limits = httpx.Timeout(timeout, connect=connect_timeout)
        # openai's annotations name the Timeout of the httpx copy it bundles (httpx2); an httpx.Timeout works the same.
        self._client = openai.OpenAI(base_url=self.base_url, api_key=key, timeout=limits,  # type: ignore[arg-type]
                                     max_retries=0)
        self._aclient = openai.AsyncOpenAI(base_url=self.base_url, api_key=key,
                                           timeout=limits, max_retries=0)  # type: ignore[arg-type]

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if request.min_tokens is not None:
            extra["min_tokens"] = request.min_tokens  # vLLM extensions, sent only when replay forces a length
        if request.ignore_eos:
            extra["ignore_eos"] = True
        kwargs: dict[str, Any] = {
            "model": self.model, "messages": request.messages, "max_tokens": request.max_tokens,
            "temperature": request.temperature, "top_p": request.top_p, "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            kwargs["stop"] = request.stop
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def _after_failure(self, stream: _Stream, exc: Exception, attempt: int) -> float:
        """Raise the failure when it is final; otherwise return how long to back off before the next attempt."""
        retry, infra = _classify(exc)
        if not retry or attempt >= self.max_retries:
            raise stream.failed(exc, infra, attempt) from exc
        return min(self.backoff_s * 2**attempt, 30.0)

    def complete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        attempt = 0
        while True:
            stream = _Stream(self, request, on_text)
            try:
                if not self.model:
                    self.model = self._client.models.list().data[0].id
                for chunk in self._client.chat.completions.create(**self._kwargs(request)):
                    stream.feed(chunk)
                return stream.finish(attempt)
            except Exception as exc:
                delay = self._after_failure(stream, exc, attempt)
            time.sleep(delay)
            attempt += 1

    async def acomplete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        attempt = 0
        while True:
            stream = _Stream(self, request, on_text)
            try:
                if not self.model:
                    self.model = (await self._aclient.models.list()).data[0].id
                async for chunk in await self._aclient.chat.completions.create(**self._kwargs(request)):
                    stream.feed(chunk)
                return stream.finish(attempt)
            except Exception as exc:
                delay = self._after_failure(stream, exc, attempt)
            await asyncio.sleep(delay)
            attempt += 1

    def close(self) -> None:
        self._client.close()
