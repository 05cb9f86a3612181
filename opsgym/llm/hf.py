"""transformers backends: ``hf-naive`` (the seed's baseline) and ``hf-prefix`` (opsgym's own small prefix cache).

``hf-naive`` re-computes the whole prompt on every call, which is what makes a naive agent loop cost O(T·N²): each
turn re-sends the growing history. ``hf-prefix`` keeps the KV cache of recent conversations and, for a new prompt,
reuses the cache of the longest matching token prefix, so only the new tokens are prefilled (O(T)). Both run the same
greedy/sampling loop on the same weights, so their greedy outputs are identical and a benchmark compares only the
prefill work. Timings are measured directly: prefill is the first forward pass, decode the rest.

Two things keep the loop honest on a CPU, for both backends alike: only the last position's logits are computed
(``logits_to_keep=1``; the full ``prompt × vocabulary`` matrix costs a quarter of a long prefill on a CPU), and the
KV cache appends into spare capacity instead of re-concatenating the whole cache for every token (:func:`new_kv_cache`).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from opsgym.llm.base import BaseLLMBackend, ChatRequest, OnText
from opsgym.llm.models import resolve_model
from opsgym.llm.pricing import Price, call_cost, get_price
from opsgym.llm.telemetry import LLMCall

__all__ = ["HFBackend", "PrefixCache", "load_model", "new_kv_cache"]


@functools.lru_cache(maxsize=4)
def load_model(path: str, dtype: str = "float32") -> tuple[Any, Any]:
    """Load (tokenizer, model) once per process: backends, tests and bench share the weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = Path(path)
    kwargs: dict[str, Any] = {"gguf_file": p.name} if p.suffix == ".gguf" else {}
    folder = p.parent if kwargs else p
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype), **kwargs)
    model.eval()
    return tokenizer, model


@functools.cache
def _growing_layer_class() -> type:
    """The layer class, built on first use: importing this module must not import transformers."""
    from transformers.cache_utils import DynamicLayer

    class GrowingKVLayer(DynamicLayer):
        """A KV cache layer that appends in place into spare capacity (doubling when full).

        Why: transformers' ``DynamicLayer`` concatenates the whole cache with each new token, so every decode step
        allocates, copies and frees the full history (2 × 2.3 MB per layer at 3,000 tokens of SmolLM2); on the 2-core
        CPU VM decode at 3,000 tokens went from 79.7 to 73.5 ms/token (median of 5). Attention sees a view of
        exactly the filled part, so results are the same as with ``DynamicLayer``.
        """

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            super().lazy_initialization(key_states, value_states)
            self._k_buf: Any = None
            self._v_buf: Any = None
            self._filled = 0

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            end = self._filled + key_states.shape[-2]
            if self._k_buf is None or end > self._k_buf.shape[-2]:
                self._reserve(key_states, value_states, max(2 * end, 256))
            self._k_buf[..., self._filled:end, :] = key_states
            self._v_buf[..., self._filled:end, :] = value_states
            self._set_filled(end)
            return self.keys, self.values

        def _reserve(self, key_states: Any, value_states: Any, capacity: int) -> None:
            k_buf = key_states.new_empty((*key_states.shape[:-2], capacity, key_states.shape[-1]))
            v_buf = value_states.new_empty((*value_states.shape[:-2], capacity, value_states.shape[-1]))
            if self._filled:
                k_buf[..., : self._filled, :] = self.keys
                v_buf[..., : self._filled, :] = self.values
            self._k_buf, self._v_buf = k_buf, v_buf

        def _set_filled(self, n: int) -> None:
            self._filled = n
            self.keys, self.values = self._k_buf[..., :n, :], self._v_buf[..., :n, :]

        def get_seq_length(self) -> int:
            return self._filled if self.is_initialized else 0

        def crop(self, tokens_to_remove: int) -> None:
            """``DynamicLayer.crop``'s contract: a negative count drops that many tokens from the end, a positive one
            (transformers' legacy form) is the length to keep."""
            if not self.is_initialized:
                return
            keep = self._filled + tokens_to_remove if tokens_to_remove < 0 else min(tokens_to_remove, self._filled)
            self._set_filled(max(keep, 0))

    return GrowingKVLayer


def new_kv_cache() -> Any:
    """An empty KV cache of ``GrowingKVLayer`` layers (used by both backends, so they differ only in reuse)."""
    from transformers.cache_utils import Cache

    return Cache(layer_class_to_replicate=_growing_layer_class())


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """A few KV caches keyed by the token sequence they cover; lookups take the longest matching prefix.

    Why take instead of copy: copying a long KV cache on every turn would cost as much memory traffic as it saves.
    A taken entry is cropped to the shared prefix, extended by the call, and put back under its new token sequence.
    """

    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self._entries: OrderedDict[int, tuple[list[int], Any]] = OrderedDict()
        self._next_key = 0

    def take(self, ids: list[int]) -> tuple[Any | None, int]:
        """Remove and return (cache cropped to the longest shared prefix, its length), or (None, 0)."""
        best_key, best_len = None, 0
        for key, (tokens, _) in self._entries.items():
            n = min(_common_prefix(tokens, ids), len(ids) - 1)  # at least one token must be computed for logits
            if n > best_len:
                best_key, best_len = key, n
        if best_key is None:
            return None, 0
        _, cache = self._entries.pop(best_key)
        excess = cache.get_seq_length() - best_len
        if excess > 0:
            cache.crop(-excess)  # a negative count removes that many tokens from the end
        return cache, best_len

    def put(self, tokens: list[int], cache: Any) -> None:
        self._entries[self._next_key] = (tokens, cache)
        self._next_key += 1
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


class HFBackend(BaseLLMBackend):
    """A local transformers model; ``reuse_prefix`` selects ``hf-prefix`` over ``hf-naive``.

    Args:
        target: model folder, ``.gguf`` file or ``"smollm2"`` (the packaged default); never a hub name.
        reuse_prefix: keep KV caches across calls and reuse the longest matching token prefix.
        dtype: torch dtype name; float32 keeps greedy outputs reproducible on CPU.
        price: a :data:`~opsgym.llm.pricing.PRICES` name or :class:`Price` (hourly: this machine's rate).
        cache_entries: how many conversations ``hf-prefix`` keeps caches for.
    """

    def __init__(self, target: str | None = None, *, model: str | None = None, reuse_prefix: bool = False,
                 dtype: str = "float32", price: str | Price | None = "cpu", cache_entries: int = 4):
        self.path = resolve_model(model or target)
        self.name = "hf-prefix" if reuse_prefix else "hf-naive"
        self.model = self.path.name
        self.reuse_prefix = reuse_prefix
        self.price = get_price(price)
        self.tokenizer, self._model = load_model(str(self.path), dtype)
        self.context_window = getattr(self._model.config, "max_position_embeddings", None)
        self._cache = PrefixCache(cache_entries)
        self._lock = threading.Lock()
        self.config = {"path": str(self.path), "reuse_prefix": reuse_prefix, "dtype": dtype}

    def tokenize(self, messages: list[dict[str, Any]]) -> list[int]:
        """Prompt token ids exactly as the model sees them (chat template + generation prompt)."""
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)

    def complete(self, request: ChatRequest, on_text: OnText | None = None) -> LLMCall:
        started, t0 = time.time(), time.perf_counter()
        with self._lock:  # one forward pass at a time: a batch of one, like a naive agent loop
            t_lock = time.perf_counter()
            call = self._generate(request, on_text, t0)
        call.started_at, call.queue_s = started, t_lock - t0
        call.latency_s = time.perf_counter() - t0
        call.cost_usd = call_cost(call, self.price)
        return call

    def _pick(self, logits: Any, request: ChatRequest, n_generated: int, generator: Any) -> int:
        import torch

        eos = self.tokenizer.eos_token_id
        if request.ignore_eos or (request.min_tokens is not None and n_generated < request.min_tokens):
            logits = logits.clone()
            logits[eos] = float("-inf")
        if request.temperature == 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / request.temperature, dim=-1)
        if request.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, 0) - sorted_p < request.top_p
            probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        return int(torch.multinomial(probs, 1, generator=generator))

    def _forward(self, ids: list[int], cache: Any) -> Any:
        """Feed ``ids`` through the model, extending ``cache``; the next-token logits of the last position only."""
        import torch

        out = self._model(input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[0, -1]

    def _generate(self, request: ChatRequest, on_text: OnText | None, t_sent: float) -> LLMCall:
        import torch

        ids = self.tokenize(request.messages)
        cache, reused = self._cache.take(ids) if self.reuse_prefix else (None, 0)
        cache = cache if cache is not None else new_kv_cache()
        generator = torch.Generator().manual_seed(request.seed or 0)
        eos = self.tokenizer.eos_token_id
        generated: list[int] = []
        text, emitted, ttft = "", 0, None
        with torch.inference_mode():
            t_prefill = time.perf_counter()
            logits = self._forward(ids[reused:], cache)
            prefill_s = time.perf_counter() - t_prefill
            while len(generated) < request.max_tokens:
                token = self._pick(logits, request, len(generated), generator)
                generated.append(token)
                ttft = ttft if ttft is not None else time.perf_counter() - t_sent
                if token == eos:
                    break
                text = self.tokenizer.decode(generated, skip_special_tokens=True)
                hit = next((s for s in request.stop if s in text), None)
                if hit is not None:
                    text = text[: text.index(hit)]
                    break
                if on_text is not None and len(text) > emitted and not text.endswith("\ufffd"):
                    on_text(text[emitted:])
                    emitted = len(text)
                if len(generated) < request.max_tokens:
                    logits = self._forward([token], cache)
        if on_text is not None and len(text) > emitted:
            on_text(text[emitted:])
        if self.reuse_prefix:
            self._cache.put(ids + generated[:-1], cache)  # the last token was never fed through the model
        decode_s = time.perf_counter() - t_prefill - prefill_s
        return LLMCall(
            backend=self.name, model=self.model, messages=request.messages, output=text, params=request.params(),
            prompt_tokens=len(ids), cached_prompt_tokens=reused, completion_tokens=len(generated),
            ttft_s=ttft, prefill_s=prefill_s, decode_s=decode_s,
        )

    def close(self) -> None:
        self._cache.clear()
