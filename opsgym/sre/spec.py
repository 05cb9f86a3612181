"""The ``sre:`` section of a task.yaml (owned by the SRE scenario; extend freely, keep errors field-precise)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SRESpec"]


class SRESpec(BaseModel):
    """Where the app's manifests live, which fault to inject, and how to check the end state."""

    model_config = ConfigDict(extra="forbid")
    app: str = Field(description="folder (relative to the task folder) with manifests/ and programs/")
    alert: str = Field(description="the alert text the agent sees first; may use ${variables}")
    variables: dict[str, list[Any]] = Field(default_factory=dict, description="per-seed choices")
    fault: list[dict[str, Any]] = Field(default_factory=list)
    noise: list[dict[str, Any]] = Field(default_factory=list)
    checks: list[dict[str, Any]] = Field(default_factory=list)
