"""The LLM backend contract: chat messages in, one measured :class:`~opsgym.llm.telemetry.LLMCall` out.

Every backend (an OpenAI-compatible server, a vLLM server opsgym launches, the transformers baselines) answers the same
:class:`ChatRequest` with an ``LLMCall`` that carries the text *and* its telemetry, so agents, the LLM judge, replay and
``opsgym bench`` never care which stack produced it. The call shape is deliberately small and stable::

    backend = opsgym.plugins.create("llm backend", "hf-prefix")
    call = backend.chat([{"role": "user", "content": "hi"}], max_tokens=32)      # sync
    call = await backend.achat(messages, max_tokens=32)                            # async
    call = backend.complete(ChatRequest(messages=messages), on_text=print)         # streaming: text chunks as they come
    call.output, call.prompt_tokens, call.ttft_s, call.cost_usd
    backend = create_backend("openai:http://127.0.0.1:8000/v1,model=smollm2")   # the `--llm` spec string

A request that fails for infrastructure reasons (server down, timeouts, 5xx after retries, unparseable responses)
raises :class:`~opsgym.errors.LLMRequestError`, an :class:`~opsgym.errors.InfrastructureError` whose ``call`` is the
failed ``LLMCall`` (``error`` set, ``infra_failure=True``) so callers can still put it in the ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from opsgym.llm.telemetry import LLMCall

__all__ = ["BaseLLMBackend", "ChatRequest", "LLMBackend", "OnText", "create_backend", "parse_spec", "request_from_call",
           "target_options"]

OnText = Callable[[str], None]
"""Streaming callback: receives each new piece of generated text as soon as the backend has it."""


class ChatRequest(BaseModel):
    """One chat completion request, identical for every backend.

    ``min_tokens`` and ``ignore_eos`` exist for replay: forcing a recorded output length makes two inference
    configurations do exactly the same work even when their sampled text differs.
    """

    messages: list[dict[str, Any]]
    max_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = 0
    min_tokens: int | None = Field(None, ge=0)
    ignore_eos: bool = False

    def params(self) -> dict[str, Any]:
        """The generation parameters as recorded in ``LLMCall.params`` (everything but the messages)."""
        return self.model_dump(exclude={"messages"}, exclude_defaults=False)


def request_from_call(call: LLMCall, *, force_length: bool = True) -> ChatRequest:
    """Rebuild the request of a recorded call; with ``force_length`` the replay generates exactly as many tokens.

    Why: replay must compare configurations on identical work, so the output length is pinned to what was recorded
    (``min_tokens = max_tokens = completion_tokens`` and ``ignore_eos``) rather than left to each model's sampling.
    """
    known = set(ChatRequest.model_fields) - {"messages"}
    params = {k: v for k, v in call.params.items() if k in known}
    request = ChatRequest(messages=call.messages, **params)
    if force_length and call.completion_tokens:
        n = call.completion_tokens
        request = request.model_copy(update={"max_tokens": n, "min_tokens": n, "ignore_eos": True, "stop": []})
    return request


@runtime_checkable
class LLMBackend(Protocol):
    """What an agent, the judge, replay and bench need from an inference stack.

    Attributes:
        name: the registry name (``openai``, ``vllm``, ``hf-naive`` …), recorded in every call.
        model: the model identity served (a path, a served-model name), recorded in every call.
    """

    name: str
    model: str

    def complete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        """Run one request; stream text pieces to ``on_text``; return the measured call."""

    async def acomplete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        """Async form of :meth:`complete` (used by concurrent agents and ``opsgym bench``)."""

    def chat(self, messages: list[dict[str, Any]], **params: Any) -> LLMCall:
        """Shorthand: ``complete(ChatRequest(messages=messages, **params))``."""

    async def achat(self, messages: list[dict[str, Any]], **params: Any) -> LLMCall:
        """Async shorthand for :meth:`chat`."""

    def close(self) -> None:
        """Release what the backend holds (a server process, a loaded model); safe to call twice."""


class BaseLLMBackend:
    """Shared plumbing: a backend implements :meth:`complete` and gets the rest.

    ``acomplete`` runs ``complete`` in a worker thread by default; backends with a native async client override it.
    """

    name: str = "llm"
    model: str = ""
    context_window: int | None = None
    """The model's prompt + output limit in tokens where known (agents size their history budget by it)."""

    def complete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement complete()")

    async def acomplete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        return await asyncio.to_thread(self.complete, request, on_text)

    def chat(self, messages: list[dict[str, Any]], **params: Any) -> LLMCall:
        on_text = params.pop("on_text", None)
        return self.complete(ChatRequest(messages=messages, **params), on_text)

    async def achat(self, messages: list[dict[str, Any]], **params: Any) -> LLMCall:
        on_text = params.pop("on_text", None)
        return await self.acomplete(ChatRequest(messages=messages, **params), on_text)

    def describe(self) -> dict[str, Any]:
        """Backend, model and inference configuration, as recorded in an episode's run spec."""
        return {"name": self.name, "model": self.model, **getattr(self, "config", {})}

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> BaseLLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _option_value(text: str) -> Any:
    lowered = text.lower()
    if lowered in {"true", "on", "yes"}:
        return True
    if lowered in {"false", "off", "no"}:
        return False
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, Any]]:
    """Split an ``--llm`` spec ``name[:target][,key=value…]`` into name, target and options.

    Examples: ``hf-prefix``, ``vllm:serial,prefix_caching=off``, ``openai:http://127.0.0.1:8000/v1,model=smollm2``.
    """
    head, *pairs = spec.split(",")
    name, _, target = head.partition(":")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad option {pair!r} in LLM spec {spec!r}: write options as ,key=value")
        options[key.strip().replace("-", "_")] = _option_value(value.strip())
    return name.strip(), (target.strip() or None), options


def target_options(target: str | None) -> tuple[str | None, dict[str, Any]]:
    """Split ``serial,prefix_caching=off`` (a target with trailing options) into the target and its options.

    Why: ``--llm vllm:serial,prefix_caching=off`` may reach a factory as ``target`` unparsed (the runner splits only
    at the first colon), so factories accept options written inside the target too.
    """
    if target is None or "," not in target:
        return target, {}
    _, rest, options = parse_spec("x:" + target)
    return rest, options


def create_backend(spec: str | LLMBackend, **options: Any) -> LLMBackend:
    """Build a registered backend from a spec string (see :func:`parse_spec`); a backend object passes through."""
    if not isinstance(spec, str):
        return spec
    from opsgym import plugins

    name, target, parsed = parse_spec(spec)
    return plugins.create("llm backend", name, target, **(parsed | options))
