#!/usr/bin/env bash
# Run every benchmark; each prints its numbers as ratios against a baseline measured in the same run.
# Usage: bash benchmarks/run.sh            (all: ~50 min on 2 cores, of which `opsgym bench` (llm) is ~30)
#        bash benchmarks/run.sh env swe    (only bench_env.py and bench_swe.py)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python="${PYTHON:-.venv/bin/python}"
# Bytecode first, as an installed package has it: with PYTHONDONTWRITEBYTECODE set (as on this project's VM) an
# editable install would otherwise recompile ~80 opsgym modules in every runner worker (~0.1 s per worker start).
"$python" -m compileall -q opsgym >/dev/null
names=("$@")
((${#names[@]})) || names=(cluster kubectl env scoring swe runner catalog real_cluster context llm)
for name in "${names[@]}"; do
  echo "=================== benchmarks/bench_${name}.py"
  "$python" "benchmarks/bench_${name}.py"
done
