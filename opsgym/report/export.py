"""``opsgym export RUN_DIR --format csv|parquet``: one row per episode for pandas, spreadsheets and notebooks."""

from __future__ import annotations

import json
from pathlib import Path

from opsgym.errors import RunConfigError
from opsgym.report.frame import episodes_frame
from opsgym.report.html import settled_records
from opsgym.runner.run import load_run

__all__ = ["FORMATS", "export_episodes"]

FORMATS = ("csv", "parquet")


def export_episodes(run_dir: str | Path, fmt: str = "csv", out: str | Path | None = None) -> Path:
    """Write the settled episode of every planned key (columns: :mod:`opsgym.report.frame`); return the file."""
    if fmt not in FORMATS:
        raise RunConfigError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    run_dir = Path(run_dir)
    _, records, _ = load_run(run_dir)
    if not records:
        raise RunConfigError(f"{run_dir} has no episode records to export")
    frame = episodes_frame(settled_records(records)[0])
    path = Path(out) if out is not None else run_dir / f"episodes.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        # lists (e.g. a metric's list of fired rules) are kept as JSON text, which every parquet reader can load
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, (list, dict))).any():
                frame[column] = frame[column].map(lambda v: None if v is None else json.dumps(v))
        frame.to_parquet(path, index=False)
    return path
