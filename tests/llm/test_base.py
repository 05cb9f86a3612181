"""The backend contract's helpers: spec strings, forced-length replay requests, registry lookups."""

from __future__ import annotations

import pytest

from opsgym import plugins
from opsgym.errors import UnknownNameError
from opsgym.llm.base import BaseLLMBackend, ChatRequest, LLMBackend, create_backend, parse_spec, request_from_call
from opsgym.llm.telemetry import LLMCall


@pytest.mark.parametrize(("spec", "parsed"), [
    ("hf-prefix", ("hf-prefix", None, {})),
    ("vllm:serial,prefix_caching=off", ("vllm", "serial", {"prefix_caching": False})),
    ("openai:http://127.0.0.1:8000/v1,model=smollm2,timeout=2.5,max-retries=1",
     ("openai", "http://127.0.0.1:8000/v1", {"model": "smollm2", "timeout": 2.5, "max_retries": 1})),
])
def test_parse_spec(spec, parsed):
    assert parse_spec(spec) == parsed


def test_bad_option_says_how_to_write_it():
    with pytest.raises(ValueError, match="key=value"):
        parse_spec("vllm:serial,fast")


def test_replay_request_forces_the_recorded_length():
    recorded = LLMCall(backend="x", messages=[{"role": "user", "content": "hi"}], completion_tokens=17,
                       params={"max_tokens": 64, "temperature": 0.0, "stop": ["\nObservation:"], "seed": 4})
    forced = request_from_call(recorded)
    assert (forced.max_tokens, forced.min_tokens, forced.ignore_eos, forced.stop) == (17, 17, True, [])
    assert forced.seed == 4 and forced.messages == recorded.messages
    free = request_from_call(recorded, force_length=False)
    assert (free.max_tokens, free.min_tokens, free.stop) == (64, None, ["\nObservation:"])


def test_every_builtin_backend_is_registered():
    assert {"hf-naive", "hf-prefix", "openai", "vllm"} <= set(plugins.entries("llm backend"))
    with pytest.raises(UnknownNameError, match="hf-prefix"):
        create_backend("hf-prefx")


def test_base_class_satisfies_the_protocol_and_derives_chat_from_complete():
    class Echo(BaseLLMBackend):
        name, model = "echo", "none"

        def complete(self, request: ChatRequest, on_text=None) -> LLMCall:
            return LLMCall(backend=self.name, messages=request.messages, output=request.messages[-1]["content"],
                           params=request.params())

    echo = Echo()
    assert isinstance(echo, LLMBackend)
    assert echo.chat([{"role": "user", "content": "ping"}], max_tokens=3).params["max_tokens"] == 3
    import asyncio

    assert asyncio.run(echo.achat([{"role": "user", "content": "pong"}])).output == "pong"
    assert echo.describe() == {"name": "echo", "model": "none"}
