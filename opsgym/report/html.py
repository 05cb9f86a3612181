"""``opsgym report RUN_DIR``: one self-contained HTML file (plotly inlined, no network needed to view it).

Sections: overview (planned vs recorded, failures by kind, skipped lines, versions), summary per env × agent ×
perturbation with means and 95 % confidence intervals, pass@k and pass^k over seeds per task and suite, metric
radar/bars per scoring profile, Adaptivity per perturbation, distributions of time to solution and cost, inference
telemetry when LLM calls exist, and every episode with a drill-down into its trajectory (actions, classes,
observations, LLM calls, outcome, metrics).

Records are untrusted input: every record string reaches the page through :mod:`opsgym.report.page` (escaped HTML,
script-safe JSON, escaped figures), and the page's Content-Security-Policy runs only its own two scripts (plotly.js and
``static/report.js``, which draws the charts and the drill-down from the embedded JSON).
"""

from __future__ import annotations

import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

from opsgym.errors import RunConfigError
from opsgym.record import EpisodeRecord
from opsgym.report.charts import (
    adaptivity_figure,
    adaptivity_rows,
    distribution_figures,
    profile_figures,
    telemetry_figures,
)
from opsgym.report.frame import GROUP, episodes_frame, score_columns
from opsgym.report.page import csp_meta, dom_id, figure_json, script_json, text
from opsgym.report.passk import summarize
from opsgym.report.stats import mean_ci
from opsgym.runner.run import load_run

__all__ = ["settled_records", "write_report"]

_TEXT = 2000  # characters of each observation / LLM message kept in the drill-down (records keep everything)


def settled_records(records: list[EpisodeRecord]) -> tuple[list[EpisodeRecord], int]:
    """The record that stands for each episode (its last final attempt, else its last attempt) and how many attempts
    were superseded by a retry."""
    chosen: dict[str, EpisodeRecord] = {}
    for record in records:
        key = record.spec.episode_key
        if key not in chosen or record.final or not chosen[key].final:
            chosen[key] = record
    return list(chosen.values()), len(records) - len(chosen)


def _cut(text: str, limit: int = _TEXT) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n[… {len(text) - limit} more characters in the record]"


def _episode_json(record: EpisodeRecord) -> dict[str, Any]:
    calls = []
    for call in record.llm_calls:
        last = call.messages[-1].get("content", "") if call.messages else ""
        calls.append({**call.model_dump(exclude={"messages", "output"}), "last_message": _cut(str(last)),
                      "output": _cut(call.output)})
    return {
        "episode_key": record.spec.episode_key, "env_id": record.spec.env_id, "agent": record.spec.label,
        "perturbation": record.spec.perturbation or "none", "seed": record.spec.seed, "status": record.status,
        "attempt": record.attempt, "reward": record.reward, "duration_s": record.duration_s,
        "task_version": record.spec.task_version, "observation0": _cut(record.observation0),
        "error": record.error.model_dump(exclude={"traceback"}) if record.error else None,
        "steps": [{**s.model_dump(), "action": _cut(s.action), "observation": _cut(s.observation)}
                  for s in record.steps],
        "llm_calls": calls,
        "outcome": record.outcome.model_dump(mode="json", include={"answer", "ground_truth", "checks", "submitted"})
        if record.outcome else None,
        "metrics": {k: v for k, v in record.metrics.items() if k != "profile"},
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else text(value)


def _table(headers: list[str], rows: list[list[str]], numeric_from: int, attrs: str = "") -> str:
    def cls(i: int) -> str:
        return ' class="num"' if i >= numeric_from else ""

    head = "".join(f"<th{cls(i)}>{text(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f'<div class="scroll"><table {attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _summary(frame: Any) -> str:
    scores = score_columns(frame)
    headers = [*GROUP, "episodes", "ok", "agent fail", "infra fail", "reward", *[c.split(".", 1)[1] for c in scores],
               "fixed", "steps", "wall s", "tokens", "cost $"]
    rows = []
    for keys, group in frame.groupby(GROUP):
        scored = group[group["status"] != "infra_failure"]
        tokens = sum(group[c].fillna(0).sum() for c in ("llm.prompt_tokens", "llm.completion_tokens") if c in group)
        cost = group["llm.cost_usd"].fillna(0).sum() if "llm.cost_usd" in group else 0.0
        rows.append([text(k) for k in keys] + [
            str(len(group)), str(int((group["status"] == "completed").sum())),
            str(int((group["status"] == "agent_failure").sum())), str(int((group["status"] == "infra_failure").sum())),
            str(mean_ci(scored["reward"])), *[str(mean_ci(scored[c])) for c in scores],
            _fmt(scored["fixed"].mean() * 100, 0) + "%" if scored["fixed"].notna().any() else "–",
            _fmt(float(scored["steps"].mean()), 1), _fmt(float(scored["duration_s"].mean()), 2),
            f"{int(tokens):,}" if math.isfinite(tokens) else "–", f"{cost:.4f}",
        ])
    note = ('<p class="note">mean ± half-width of the 95% t-interval over episodes; an agent crash scores 0, '
            "infrastructure failures are excluded from scores.</p>")
    return _table(headers, rows, len(GROUP), 'id="summary-table"') + note


def _passk(records: list[EpisodeRecord]) -> str:
    summary = summarize(records)
    if not summary.tasks:
        return '<p class="empty">No episode has a TaskEfficacy to judge.</p>'
    note = ('<p class="note">an episode passes at TaskEfficacy 1 (an agent crash fails, infrastructure failures are '
            "left out); of a task's n episodes c passed: pass@k = 1 − C(n−c, k)/C(n, k), the chance one of k passes; "
            "pass^k = C(c, k)/C(n, k), the chance all k pass; – where a task ran fewer than k; a suite is the mean "
            "over its tasks.</p>")
    return _table(summary.headers, [[text(c) for c in row] for row in summary.cells()], 4, 'id="passk-table"') + note


def _overview(plan: Any, frame: Any, superseded: int, problems: list[Any], records: list[EpisodeRecord]) -> str:
    planned = plan.planned if plan is not None and plan.planned else len(frame)
    counts = frame["status"].value_counts() if not frame.empty else {}
    cards = [("planned", planned, ""), ("recorded", len(frame), "good" if len(frame) == planned else "warn"),
             ("completed", int(counts.get("completed", 0)), "good"),
             ("agent failures", int(counts.get("agent_failure", 0)), "warn"),
             ("infra failures", int(counts.get("infra_failure", 0)), "bad"),
             ("retried attempts", superseded, ""), ("skipped lines", len(problems), "bad" if problems else "")]
    out = '<div class="cards">' + "".join(f'<div class="card {c}"><div class="v">{v}</div><div class="k">{k}</div>'
                                          "</div>" for k, v, c in cards) + "</div>"
    if problems:
        out += "<h3>skipped lines of records.jsonl</h3><ul>" + "".join(
            f"<li>{text(p)}</li>" for p in problems) + "</ul>"
    versions = records[0].spec.versions if records else {}
    if versions:
        out += '<p class="note">' + " · ".join(f"{text(k)} {text(v)}" for k, v in versions.items())
        out += "</p>"
    return out


def _episodes_table(records: list[EpisodeRecord]) -> str:
    rows = []
    for index, r in enumerate(records):
        fixed = r.outcome.remediation_correct if r.outcome else None
        rows.append(
            f'<tr class="episode" data-index="{index}"><td>{text(r.spec.env_id)}</td>'
            f"<td>{text(r.spec.label)}</td><td>{text(r.spec.perturbation or 'none')}</td>"
            f'<td class="num">{text(r.spec.seed)}</td><td class="status-{text(r.status)}">{text(r.status)}</td>'
            f'<td class="num">{_fmt(r.reward)}</td><td class="num">{_fmt(fixed, 2)}</td>'
            f'<td class="num">{len(r.steps)}</td><td class="num">{_fmt(r.duration_s, 2)}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in ("env", "agent", "perturbation", "seed", "status", "reward", "fixed",
                                             "steps", "wall s"))
    return (f'<input id="episode-filter" placeholder="filter episodes (env, agent, status …)">'
            f'<table id="episodes-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>')


class _Figures:
    """The page's charts: a placeholder ``<div>`` each, drawn by report.js from one JSON block (no per-chart script)."""

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []
        self._ids: set[str] = set()

    def div(self, name: str, figure: Any) -> str:
        element_id = dom_id(f"fig-{name}", self._ids)
        self.specs.append({"id": element_id, **figure_json(figure)})
        return f'<div class="chart"><div class="plotly-graph-div" id="{element_id}"></div></div>'

    def section(self, section_id: str, title: str, figures: list[tuple[str, Any]]) -> list[tuple[str, str, str]]:
        """A section of charts in a grid, or nothing when there is nothing to draw."""
        if not figures:
            return []
        return [(section_id, title, '<div class="charts">' + "".join(self.div(n, f) for n, f in figures) + "</div>")]


def _asset(name: str) -> str:
    return resources.files("opsgym.report").joinpath("static", name).read_text(encoding="utf-8")


def render(run_dir: Path) -> str:
    """The report's HTML for the run in ``run_dir``."""
    from plotly.offline import get_plotlyjs

    plan, records, problems = load_run(run_dir)
    if not records:
        raise RunConfigError(f"{run_dir} has no episode records yet (run `opsgym run --out {run_dir}` first)")
    settled, superseded = settled_records(records)
    settled.sort(key=lambda r: (r.spec.env_id, r.spec.label, r.spec.perturbation or "", r.spec.seed, r.spec.repeat))
    frame = episodes_frame(settled)
    charts = _Figures()
    sections = [("overview", "Overview", _overview(plan, frame, superseded, problems, settled)),
                ("summary", "Summary", _summary(frame)), ("passk", "pass@k over seeds", _passk(settled))]
    sections += charts.section("metrics", "Metrics per profile", profile_figures(frame))
    adapt = adaptivity_rows(frame)
    if adapt:
        figure = adaptivity_figure(adapt)
        table = _table(["env", "agent", "perturbation", "Adaptivity", "defined", "undefined", "note"], [
            [text(r["env_id"]), text(r["agent"]), text(r["perturbation"]), _fmt(r["adaptivity"]),
             text(r["defined"]), text(r["undefined"]), text(r["reason"])] for r in adapt], 3)
        sections.append(("adaptivity", "Adaptivity", (charts.div("adaptivity", figure) if figure else "") + table))
    sections += charts.section("distributions", "Time and cost", distribution_figures(frame))
    sections += charts.section("telemetry", "Inference telemetry", telemetry_figures(frame))
    sections.append(("episodes", "Episodes", _episodes_table(settled) + '<div id="drilldown"><p class="empty">'
                     "Select an episode.</p></div>"))
    episodes = script_json({"episodes": [_episode_json(r) for r in settled]})
    title = f"opsgym run {plan.run_id if plan else run_dir.name}"
    nav = "".join(f'<a href="#{sid}">{text(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{text(name)}</h2>{content}</section>'
                   for sid, name, content in sections)
    subtitle = f"{text(run_dir)} · report written {time.strftime('%Y-%m-%d %H:%M:%S')}"
    plotly_js, report_js = get_plotlyjs(), _asset("report.js")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">{csp_meta([plotly_js, report_js])}'
            f"<title>{text(title)}</title><style>{_asset('report.css')}</style><script>{plotly_js}</script></head>"
            f'<body><header><h1>{text(title)}</h1><div class="sub">{subtitle}</div></header><nav>{nav}</nav>'
            f'<main>{body}</main><script id="episodes-data" type="application/json">{episodes}</script>'
            f'<script id="figures-data" type="application/json">{script_json(charts.specs)}</script>'
            f"<script>{report_js}</script></body></html>")


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report for ``run_dir`` (default ``RUN_DIR/report.html``) and return its path."""
    run_dir = Path(run_dir)
    path = Path(out) if out is not None else run_dir / "report.html"
    content = render(run_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(path)
    return path
