"""Shared fixtures of the LLM tests: a scripted faulty OpenAI peer, the packaged model, a real vLLM server.

``FakeOpenAIServer`` is a faulty OpenAI-compatible peer on 127.0.0.1, scripted per request (a test double).

Each request to ``/v1/chat/completions`` takes the next behaviour from ``script`` (the last one repeats):
``ok`` (a valid streamed completion with usage), ``500``, ``429``, ``400``, ``malformed`` (a stream whose JSON is
broken), ``hang`` (accepts the request, never answers until the server stops), ``garbage`` (200 with a non-SSE body).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

OK_TEXT = ["Thought: check pods", "\nAction: kubectl get pods"]


class FakeOpenAIServer:
    ok_text = "".join(OK_TEXT)

    def __init__(self, script: list[str]):
        self.script = list(script)
        self.requests: list[dict] = []
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # /v1/models
                self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                index = len(server.requests) - 1
                behaviour = server.script[min(index, len(server.script) - 1)]
                if behaviour in ("500", "429", "400"):
                    self._json(int(behaviour), {"error": {"message": f"scripted {behaviour}"}})
                elif behaviour == "hang":
                    server._release.wait(30)
                elif behaviour == "garbage":
                    self._raw(200, "text/plain", b"this is not a completion")
                elif behaviour == "malformed":
                    self._raw(200, "text/event-stream", b'data: {"id": "x", "choices": [{"delta": {"content": \n\n')
                else:
                    self._stream()

            def _json(self, status: int, payload: dict) -> None:
                self._raw(status, "application/json", json.dumps(payload).encode())

            def _raw(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self) -> None:
                base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}
                events = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": piece},
                                                "finish_reason": None}]) for piece in OK_TEXT]
                events.append(dict(base, choices=[], usage={
                    "prompt_tokens": 120, "completion_tokens": 9, "total_tokens": 129,
                    "prompt_tokens_details": {"cached_tokens": 64}}))
                data = b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"
                self._raw(200, "text/event-stream", data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the port, as a killed server would."""
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def peer(request):
    """A :class:`FakeOpenAIServer` running ``request.param`` (use with ``indirect=True``)."""
    server = FakeOpenAIServer(request.param)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def model_dir():
    """The packaged SmolLM2 as a safetensors folder (converted once, cached)."""
    from opsgym.errors import BackendUnavailableError
    from opsgym.llm.models import converted_model_dir

    try:
        return converted_model_dir()
    except BackendUnavailableError as exc:
        pytest.skip(f"no packaged model: {exc}")


@pytest.fixture(scope="session")
def hf_naive(model_dir):
    from opsgym.llm.hf import HFBackend

    return HFBackend(str(model_dir), reuse_prefix=False)


@pytest.fixture(scope="session")
def hf_prefix(model_dir):
    from opsgym.llm.hf import HFBackend

    return HFBackend(str(model_dir), reuse_prefix=True)


@pytest.fixture(scope="session")
def vllm_python():
    """The vLLM interpreter; skips, saying why, where scripts/setup-vllm-cpu.sh has not built the venv."""
    from opsgym.errors import BackendUnavailableError
    from opsgym.llm.vllm_server import find_vllm_python

    try:
        return find_vllm_python()
    except BackendUnavailableError as exc:
        pytest.skip(f"vLLM is not installed here ({exc})")


@pytest.fixture(scope="session")
def vllm_backend(model_dir, vllm_python):
    """One real vllm-cpu server launched by the ``vllm`` backend (serial preset, prefix caching on) per session."""
    from opsgym.llm.base import create_backend

    backend = create_backend("vllm:serial", model=str(model_dir), served_model_name="smollm2")
    yield backend
    backend.close()
