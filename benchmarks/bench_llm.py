"""Inference benchmark: ``opsgym bench`` on the bundled SRE-1 trace, printing ratios against baselines of the same run.

Run: ``python benchmarks/bench_llm.py [opsgym bench options]`` (e.g. ``--turns 10 --agents 8 --out bench.json``).
It is the same command as ``opsgym bench``; this file exists so every benchmark lives under benchmarks/.
"""

from __future__ import annotations

import sys

from opsgym.cli import app

if __name__ == "__main__":
    app(["bench", *sys.argv[1:]])
