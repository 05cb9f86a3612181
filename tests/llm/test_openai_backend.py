"""The ``openai`` backend against a scripted faulty peer: retries, infrastructure failures, never a crash."""

from __future__ import annotations

import asyncio

import pytest

from opsgym.errors import InfrastructureError, LLMRequestError
from opsgym.llm.base import ChatRequest, create_backend
from opsgym.llm.openai_backend import OpenAIBackend

MESSAGES = [{"role": "user", "content": "what is wrong?"}]


def backend_for(server, **options) -> OpenAIBackend:
    return OpenAIBackend(server.url, backoff_s=0.01, timeout=options.pop("timeout", 5.0), **options)


@pytest.mark.parametrize("peer", [["ok"]], indirect=True)
def test_streamed_call_reports_usage_ttft_and_text(peer):
    pieces: list[str] = []
    call = backend_for(peer, price="gpt-4o").complete(ChatRequest(messages=MESSAGES), on_text=pieces.append)
    assert call.output == peer.ok_text == "".join(pieces)
    assert (call.prompt_tokens, call.cached_prompt_tokens, call.completion_tokens) == (120, 64, 9)
    assert call.model == "fake-model"  # discovered from /v1/models
    assert 0 < call.ttft_s <= call.latency_s
    assert call.cost_usd == pytest.approx((56 * 2.5 + 64 * 1.25 + 9 * 10.0) / 1e6)
    assert not call.error and call.retries == 0
    assert call.messages == MESSAGES and call.params["max_tokens"] == 512


@pytest.mark.parametrize("peer", [["ok"]], indirect=True)
def test_forced_length_is_sent_as_vllm_extensions(peer):
    backend_for(peer).chat(MESSAGES, max_tokens=7, min_tokens=7, ignore_eos=True)
    backend_for(peer).chat(MESSAGES, max_tokens=7)
    forced, free = peer.requests
    assert (forced["min_tokens"], forced["ignore_eos"], forced["max_tokens"]) == (7, True, 7)
    assert "min_tokens" not in free and "ignore_eos" not in free
    assert forced["stream"] is True and forced["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("peer", [["500", "429", "ok"]], indirect=True)
def test_5xx_and_429_are_retried_until_success(peer):
    call = backend_for(peer, model="m").chat(MESSAGES)
    assert call.output == peer.ok_text
    assert call.retries == 2 and len(peer.requests) == 3


@pytest.mark.parametrize("peer", [["500"], ["malformed"], ["garbage"]], indirect=True)
def test_persistent_server_faults_become_infrastructure_failures(peer):
    with pytest.raises(LLMRequestError) as info:
        backend_for(peer, model="m", max_retries=2).chat(MESSAGES)
    call = info.value.call
    assert isinstance(info.value, InfrastructureError)
    assert call.infra_failure and call.error and call.retries == 2
    assert len(peer.requests) == 3  # first try + 2 retries
    assert "failed after 3 attempt(s)" in str(info.value)


@pytest.mark.parametrize("peer", [["400"]], indirect=True)
def test_a_bad_request_is_not_retried_and_not_blamed_on_infrastructure(peer):
    with pytest.raises(LLMRequestError) as info:
        backend_for(peer, model="m").chat(MESSAGES)
    assert len(peer.requests) == 1
    assert not info.value.call.infra_failure and "400" in info.value.call.error


@pytest.mark.parametrize("peer", [["hang"]], indirect=True)
def test_a_hung_request_times_out(peer):
    with pytest.raises(LLMRequestError) as info:
        backend_for(peer, model="m", timeout=0.3, max_retries=1).chat(MESSAGES)
    assert info.value.call.infra_failure and "Timeout" in info.value.call.error
    assert len(peer.requests) == 2


@pytest.mark.parametrize("peer", [["ok"]], indirect=True)
def test_server_killed_mid_episode(peer):
    backend = backend_for(peer, max_retries=1)
    assert backend.chat(MESSAGES).output
    peer.stop()
    with pytest.raises(LLMRequestError) as info:
        backend.chat(MESSAGES)
    assert info.value.call.infra_failure and "Connection" in info.value.call.error


@pytest.mark.parametrize("peer", [["500", "ok"]], indirect=True)
def test_async_path_retries_too(peer):
    backend = backend_for(peer, model="m")
    call = asyncio.run(backend.achat(MESSAGES, max_tokens=5))
    assert call.output == peer.ok_text and call.retries == 1


def test_spec_string_reaches_the_backend():
    backend = create_backend("openai:http://127.0.0.1:9/v1,model=served,timeout=2.5,price=gpt-4o")
    assert (backend.base_url, backend.model, backend.price.output_per_mtok) == ("http://127.0.0.1:9/v1", "served", 10.0)
    assert backend.describe()["base_url"] == "http://127.0.0.1:9/v1"
