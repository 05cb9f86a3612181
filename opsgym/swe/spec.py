"""The ``swe:`` section of a task.yaml: SWE-bench's instance fields, plus where the repository comes from.

The field names are SWE-bench's own (``instance_id``, ``repo``, ``base_commit``, ``problem_statement``, ``patch``,
``test_patch``, ``FAIL_TO_PASS``, ``PASS_TO_PASS``), so a SWE-bench instance maps onto this model one to one. Two
sources of a repository are supported:

* a shipped task: ``repo`` names a folder inside the task folder and ``base_commit`` is empty; ``patch`` and
  ``test_patch`` name files in the task folder;
* an imported SWE-bench instance (:func:`opsgym.swe.instances.load_instances`): ``repo`` is ``owner/name``,
  ``base_commit`` a commit in the git clone at ``repo_dir``, and ``patch``/``test_patch`` hold the diff text itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opsgym.errors import TaskSpecError

__all__ = ["SWESpec"]


def _is_diff_text(value: str) -> bool:
    return "\n" in value or value.startswith(("diff ", "--- "))


class SWESpec(BaseModel):
    """A SWE-bench-style instance."""

    model_config = ConfigDict(extra="forbid")
    instance_id: str
    repo: str = Field("repo", description="shipped task: folder in the task folder; imported: owner/name")
    base_commit: str = Field("", description="empty for a shipped snapshot; a commit in repo_dir otherwise")
    problem_statement: str
    patch: str = Field("gold.patch", description="the gold patch: a file in the task folder, or the diff text")
    test_patch: str = Field("test.patch", description="the test patch (applied only at grading time)")
    FAIL_TO_PASS: list[str] = Field(description="pytest node ids that fail before the gold patch and pass after")
    PASS_TO_PASS: list[str] = Field(default_factory=list, description="node ids that pass before and after")
    environment_setup: str = Field("", description="shell run in the sandbox once per episode before the agent")
    test_dependencies: list[str] = Field(default_factory=list, description="distributions besides pytest (and what "
                                         "they require) that the sandbox shows of the interpreter's installed ones")
    repo_dir: str = Field("", description="imported instances: the local git clone holding base_commit")
    version: str = ""
    environment_setup_commit: str = ""
    hints_text: str = ""
    created_at: str = ""

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        """SWE-bench's published files store these lists as JSON strings; accept both forms."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ValueError("expected a list of pytest node ids (or a JSON string holding one)") from None
        return value

    @property
    def tests(self) -> list[str]:
        """Every test the grader runs, FAIL_TO_PASS first, without duplicates."""
        return list(dict.fromkeys([*self.FAIL_TO_PASS, *self.PASS_TO_PASS]))

    def patch_text(self, task_dir: Path | None, which: str = "patch") -> str:
        """The diff text of ``patch`` or ``test_patch``, read from the task folder when the field names a file."""
        value = getattr(self, which)
        if _is_diff_text(value) or not value:
            return value
        if task_dir is None:
            raise TaskSpecError(f"swe.{which} names a file ({value!r}) but the task has no folder; inline the diff")
        path = (task_dir / value).resolve()
        if not path.is_file():
            raise TaskSpecError(f"{task_dir}/task.yaml: swe.{which}: no such file {value!r} in the task folder")
        return path.read_text(encoding="utf-8")
