"""What prefix reuse can buy on this machine, by trace shape: per-token costs measured against context length.

``opsgym bench`` measures one trace. How much shorter prefix reuse makes a time to solution depends on two things it
cannot vary: the trace's shape (prompt tokens per call, tokens generated per call) and this machine's cost of a decoded
token against a prefilled one. This benchmark measures the second on the packaged SmolLM2 through the forward pass
``hf-naive`` and ``hf-prefix`` both run (fp32, last-position logits, in-place KV cache) at several context lengths,
then sums it over shapes:

- the bundled trace as recorded (compare with ``opsgym bench -c hf-naive -c hf-prefix``: a check of the model);
- the longest growing episode SmolLM2's 8,192-token context holds at the bundled trace's growth per call;
- every call at the seed's Table 6 average (6,978 prompt and 89 generated tokens, 98.7 % prefill), a perfectly kept
  prefix on each (what an agent trimming to a budget would need, so optimistic for prefix reuse).

Per call, naive work is the full prefill plus decode; prefix work is the call's new tokens on a cached prefix plus the
same decode. The ceiling is naive over naive-without-prefill. Run: ``python benchmarks/bench_context.py``.
"""

from __future__ import annotations

import statistics
import time
from typing import NamedTuple

import numpy as np
import torch

from opsgym.llm.hf import load_model, new_kv_cache
from opsgym.llm.models import converted_model_dir
from opsgym.llm.replay import load_trace

CONTEXTS = (1000, 2000, 4000, 6000, 7800)
NEW_TOKENS = 150  # new tokens of one turn prefilled on a cached prefix: an output plus a short observation
DECODE_STEPS = 12
MAX_CONTEXT = 8192


class Costs(NamedTuple):
    """Seconds per token at each measured context length, interpolated in between."""

    context: np.ndarray
    prefill: np.ndarray  # per token of a full prompt of that length
    extend: np.ndarray  # per new token on a cached prefix of that length
    decode: np.ndarray  # per generated token at that context

    def at(self, series: np.ndarray, n: float) -> float:
        return float(np.interp(n, self.context, series))


def measure() -> Costs:
    _, model = load_model(str(converted_model_dir()))
    ids = torch.randint(100, 40_000, (1, MAX_CONTEXT), generator=torch.Generator().manual_seed(0))[0].tolist()

    def forward(tokens: list[int], cache: object) -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            model(input_ids=torch.tensor([tokens]), past_key_values=cache, use_cache=True, logits_to_keep=1)
        return time.perf_counter() - start

    forward(ids[:64], new_kv_cache())  # first-call allocation is not charged to a row
    rows = []
    for n in CONTEXTS:
        cache = new_kv_cache()
        prefill = forward(ids[:n], cache) / n
        extend = forward(ids[n:n + NEW_TOKENS], cache) / NEW_TOKENS
        at = n + NEW_TOKENS
        decode = statistics.median(forward([ids[at + k]], cache) for k in range(DECODE_STEPS))
        rows.append((n, prefill, extend, decode))
        print(f"  context {n:>5}: prefill {1 / prefill:6.0f} tok/s, {NEW_TOKENS} new tokens on a cached prefix "
              f"{1000 * extend * NEW_TOKENS:5.0f} ms, decode {1000 * decode:5.1f} ms/token "
              f"(= {decode / prefill:4.1f} prefilled tokens)")
    return Costs(*(np.array(column) for column in zip(*rows, strict=True)))


def model_shape(costs: Costs, calls: list[tuple[int, int, int]]) -> tuple[float, float]:
    """(naive s, prefix s) for calls of (prompt tokens, tokens computed with reuse, generated tokens)."""
    naive = prefix = 0.0
    for prompt, computed, generated in calls:
        decode = generated * costs.at(costs.decode, prompt)
        naive += prompt * costs.at(costs.prefill, prompt) + decode
        prefix += computed * costs.at(costs.extend, prompt) + decode
    return naive, prefix


def shapes() -> dict[str, list[tuple[int, int, int]]]:
    trace = load_trace()
    recorded = [(c.prompt_tokens or 0, c.computed_prompt_tokens or 0, c.completion_tokens or 0) for c in trace]
    first, last = recorded[0][0], recorded[-1][0]
    growth = (last - first) / (len(recorded) - 1)
    generated = round(statistics.mean(g for _, _, g in recorded))
    longest = [(round(first + i * growth), round(growth), generated)
               for i in range(int((MAX_CONTEXT - generated - first) / growth) + 1)]
    return {
        f"bundled trace ({len(recorded)} calls, {first} -> {last} tokens)": recorded,
        f"growing to SmolLM2's limit ({len(longest)} calls, {first} -> {longest[-1][0]})": longest,
        "seed Table 6 average (93 calls of 6,978 + 89 tokens)": [(6978, 89 + 100, 89)] * 93,
    }


def main() -> None:
    print(f"per-token costs of SmolLM2-135M (fp32, {torch.get_num_threads()} threads), by context length:")
    costs = measure()
    print("\ntime to solution, prefix reuse vs recomputing every prompt (model: measured costs summed per call):")
    for name, calls in shapes().items():
        naive, prefix = model_shape(costs, calls)
        decode = sum(g * costs.at(costs.decode, p) for p, _, g in calls)
        ratio = sum(p for p, _, _ in calls) / sum(g for _, _, g in calls)
        print(f"  {name}: prompt:generated {ratio:.0f}:1, naive {naive:.0f} s, prefix {prefix:.0f} s -> "
              f"{naive / prefix:.2f}x (ceiling {naive / decode:.2f}x)")


if __name__ == "__main__":
    main()
