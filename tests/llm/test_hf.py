"""The transformers backends on the real packaged model: same greedy outputs, honest token and cache accounting."""

from __future__ import annotations

import itertools

import pytest

from opsgym.llm.base import ChatRequest
from opsgym.llm.hf import PrefixCache

SYSTEM = {"role": "system", "content": "You are an SRE agent. Pods: " + ", ".join(f"web-{i}" for i in range(30))}
TURNS = ["Pod web-7 is in CrashLoopBackOff. What do you do first?",
         "Observation: web-7 logs say 'OOMKilled: memory limit 64Mi exceeded'.",
         "Observation: the deployment sets resources.limits.memory=64Mi."]


def conversation(backend):
    """Three growing turns, each answer appended to the history (as an agent loop does)."""
    messages, calls = [SYSTEM], []
    for turn in TURNS:
        messages = [*messages, {"role": "user", "content": turn}]
        call = backend.chat(messages, max_tokens=8)
        calls.append(call)
        messages = [*messages, {"role": "assistant", "content": call.output}]
    return calls


def test_prefix_reuse_changes_work_not_answers(hf_naive, hf_prefix):
    hf_prefix.close()  # start with an empty prefix cache
    naive, prefix = conversation(hf_naive), conversation(hf_prefix)
    assert [c.output for c in naive] == [c.output for c in prefix]
    assert [c.prompt_tokens for c in naive] == [c.prompt_tokens for c in prefix]
    assert all(c.cached_prompt_tokens == 0 for c in naive)
    assert prefix[0].cached_prompt_tokens == 0
    for earlier, later in itertools.pairwise(prefix):
        assert earlier.prompt_tokens <= later.cached_prompt_tokens < later.prompt_tokens


def test_prompt_tokens_match_the_tokenizer(hf_naive):
    messages = [SYSTEM, {"role": "user", "content": TURNS[0]}]
    call = hf_naive.chat(messages, max_tokens=2)
    expected = hf_naive.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    assert call.prompt_tokens == len(expected["input_ids"])
    assert call.backend == "hf-naive" and call.messages == messages
    assert call.prefill_s > 0 and call.decode_s >= 0 and 0 < call.ttft_s <= call.latency_s
    assert call.cost_usd > 0  # hourly CPU price × busy time


def test_forced_length_for_replay(hf_prefix):
    call = hf_prefix.complete(ChatRequest(messages=[{"role": "user", "content": "Say OK."}], max_tokens=12,
                                          min_tokens=12, ignore_eos=True))
    assert call.completion_tokens == 12


def test_streaming_and_stop_strings(hf_naive):
    pieces: list[str] = []
    messages = [{"role": "user", "content": "Count from 1 to 20, separated by commas."}]
    full = hf_naive.chat(messages, max_tokens=24)
    streamed = hf_naive.chat(messages, max_tokens=24, on_text=pieces.append)
    assert "".join(pieces) == streamed.output == full.output
    stop = full.output.strip()[-3:]
    cut = hf_naive.chat(messages, max_tokens=24, stop=[stop])
    assert stop not in cut.output and full.output.startswith(cut.output)


class FakeCache:
    """Stands in for a KV cache: only its length matters to PrefixCache."""

    def __init__(self, n: int):
        self.n = n

    def get_seq_length(self) -> int:
        return self.n

    def crop(self, count: int) -> None:
        self.n += count  # a negative count removes that many tokens


def test_prefix_cache_takes_the_longest_match_and_crops_it():
    cache = PrefixCache(capacity=2)
    cache.put([1, 2, 3, 4], FakeCache(4))
    cache.put([1, 2, 9], FakeCache(3))
    got, n = cache.take([1, 2, 3, 7, 8])
    assert n == 3 and got.get_seq_length() == 3
    assert cache.take([5, 6]) == (None, 0)
    got, n = cache.take([1, 2, 9])  # a full match still leaves one token to compute
    assert n == 2 and got.get_seq_length() == 2


def test_prefix_cache_evicts_the_oldest():
    cache = PrefixCache(capacity=1)
    cache.put([1, 2, 3], FakeCache(3))
    cache.put([4, 5, 6], FakeCache(3))
    assert cache.take([1, 2, 3, 4]) == (None, 0)


@pytest.mark.parametrize("model", ["no/such/folder", "Qwen/Qwen2.5-0.5B-Instruct"])
def test_hub_names_and_missing_paths_are_refused(model):
    from opsgym.errors import BackendUnavailableError
    from opsgym.llm.models import resolve_model

    with pytest.raises(BackendUnavailableError, match="never downloads"):
        resolve_model(model)


def test_growing_kv_cache_holds_what_transformers_dynamic_cache_holds():
    """The in-place cache both HF backends use: the same keys/values, length and crops as transformers' own layer,
    across a capacity doubling, single-token appends and crops in both of ``crop``'s forms."""
    torch = pytest.importorskip("torch")
    from transformers.cache_utils import DynamicLayer

    from opsgym.llm.hf import new_kv_cache

    ours, theirs = new_kv_cache().layer_class_to_replicate(), DynamicLayer()
    generator = torch.Generator().manual_seed(0)

    def append(tokens: int) -> None:
        keys, values = (torch.randn(1, 3, tokens, 8, generator=generator) for _ in range(2))
        for layer in (ours, theirs):
            got = layer.update(keys, values)
        assert all(torch.equal(a, b) for a, b in zip(got, (theirs.keys, theirs.values), strict=True))

    def same() -> bool:
        return ours.get_seq_length() == theirs.get_seq_length() and torch.equal(ours.keys, theirs.keys) \
            and torch.equal(ours.values, theirs.values)

    append(200)
    for _ in range(120):  # past the first capacity (2 × 200): a reallocation keeps what was there
        append(1)
    assert same() and ours.get_seq_length() == 320
    for count in (-20, 250, 999, -250):  # drop 20; keep 250; keep more than held (no-op); drop everything left
        for layer in (ours, theirs):
            layer.crop(count)
        assert same(), count
    assert ours.get_seq_length() == 0
    append(5)  # a cache cropped to nothing is reused from its start
    assert same() and ours.get_seq_length() == 5
