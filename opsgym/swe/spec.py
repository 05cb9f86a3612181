"""The ``swe:`` section of a task.yaml: SWE-bench's instance fields (owned by opsgym.swe; extend freely)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SWESpec"]


class SWESpec(BaseModel):
    """A SWE-bench-style instance. ``repo`` is a folder inside the task folder for shipped tasks."""

    model_config = ConfigDict(extra="forbid")
    instance_id: str
    repo: str = "repo"
    base_commit: str = ""
    problem_statement: str
    patch: str = Field("gold.patch", description="file (relative to the task folder) with the gold patch")
    test_patch: str = Field("test.patch", description="file with the test patch")
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    environment_setup: str = ""
