"""SWE tasks: repository snapshots, sandboxed execution, FAIL_TO_PASS / PASS_TO_PASS grading.

``opsgym.swe.load_instances(path, repo_cache=...)`` turns a SWE-bench-style JSON/JSONL file into task specs for
``OpsEnv(task=spec)``; the rest (workspace, sandbox, grading) is used through ``gym.make("opsgym/SWE-…")``.
Names are imported on first use, so ``import opsgym`` stays cheap and free of import cycles.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Limits", "SWEScenario", "SWESpec", "Sandbox", "load_instances"]

_WHERE = {"Limits": "sandbox", "Sandbox": "sandbox", "SWEScenario": "scenario", "SWESpec": "spec",
          "load_instances": "catalog"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"opsgym.swe.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'opsgym.swe' has no attribute {name!r}")
