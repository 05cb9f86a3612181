"""The report's plotly figures, each built from the per-episode frame (see :mod:`opsgym.report.frame`).

Each builder returns a figure, or ``None`` when the run has nothing to show for it (no perturbations → no Adaptivity
chart, no LLM calls → no telemetry charts), so a report never shows an empty axis pretending to be a result.
"""

from __future__ import annotations

from typing import Any

from opsgym.report.frame import score_columns
from opsgym.report.stats import mean_ci
from opsgym.scoring.metrics import adaptivity

__all__ = ["adaptivity_figure", "adaptivity_rows", "distribution_figures", "profile_figures", "telemetry_figures"]

_LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 20, "t": 50, "b": 50}, "height": 380}


def _scored(frame: Any) -> Any:
    return frame[frame["status"] != "infra_failure"]


def profile_figures(frame: Any) -> list[tuple[str, Any]]:
    """Per scoring profile: a radar of mean scores per agent, and bars with 95 % confidence intervals."""
    import plotly.graph_objects as go

    scores = score_columns(frame)
    scored = _scored(frame)
    if not scores or scored.empty:
        return []
    figures = []
    baseline = scored[scored["perturbation"] == "none"]
    data = baseline if not baseline.empty else scored
    for profile, group in data.groupby(data["profile"].replace("", "unscored")):
        names = [c.split(".", 1)[1] for c in scores]
        radar, bars = go.Figure(), go.Figure()
        for agent, rows in group.groupby("agent"):
            cis = [mean_ci(rows[c]) for c in scores]
            radar.add_trace(go.Scatterpolar(r=[ci.mean for ci in cis] + [cis[0].mean], theta=[*names, names[0]],
                                            name=agent, fill="toself", opacity=0.6))
            bars.add_trace(go.Bar(x=names, y=[ci.mean for ci in cis], name=agent,
                                  error_y={"type": "data", "array": [ci.half_width if ci.n > 1 else 0 for ci in cis]}))
        radar.update_layout(title=f"profile {profile}: mean scores per agent (unperturbed)",
                            polar={"radialaxis": {"range": [0, 1]}}, **_LAYOUT)
        bars.update_layout(title=f"profile {profile}: mean ± 95% CI", barmode="group", yaxis={"range": [0, 1.05]},
                           **_LAYOUT)
        figures += [(f"radar-{profile}", radar), (f"bars-{profile}", bars)]
    return figures


def _efficacy(frame: Any) -> Any:
    column = "metrics.TaskEfficacy" if "metrics.TaskEfficacy" in frame.columns else "reward"
    return frame[column]


def adaptivity_rows(frame: Any) -> list[dict[str, Any]]:
    """Adaptivity per env × agent × perturbation, pairing each perturbed episode with the baseline of its seed."""
    scored = _scored(frame).assign(_eff=lambda f: _efficacy(f))
    rows = []
    for (env, agent), group in scored.groupby(["env_id", "agent"]):
        base = group[group["perturbation"] == "none"].set_index(["seed", "repeat"])["_eff"]
        for pert, rows_p in group[group["perturbation"] != "none"].groupby("perturbation"):
            pairs = [(float(base[(s, r)]), float(e)) for s, r, e in zip(rows_p["seed"], rows_p["repeat"],
                                                                        rows_p["_eff"], strict=True)
                     if (s, r) in base.index]
            result = adaptivity(pairs)
            rows.append({"env_id": env, "agent": agent, "perturbation": pert, "adaptivity": result.value,
                         "defined": result.defined, "undefined": result.undefined, "pairs": len(pairs),
                         "reason": result.reason})
    return rows


def adaptivity_figure(rows: list[dict[str, Any]]) -> Any:
    import plotly.graph_objects as go

    defined = [r for r in rows if r["adaptivity"] is not None]
    if not defined:
        return None
    figure = go.Figure()
    for agent in sorted({r["agent"] for r in defined}):
        mine = [r for r in defined if r["agent"] == agent]
        figure.add_trace(go.Bar(x=[f"{r['perturbation']} ({r['env_id'].rsplit('/', 1)[-1]})" for r in mine],
                                y=[r["adaptivity"] for r in mine], name=agent,
                                customdata=[[r["defined"], r["pairs"]] for r in mine],
                                hovertemplate="%{y:.3f} from %{customdata[0]} of %{customdata[1]} pairs"))
    figure.update_layout(title="Adaptivity per perturbation (TaskEfficacy(D_i) / TaskEfficacy(D_0), paired by seed)",
                         barmode="group", yaxis={"range": [0, 1.05]}, **_LAYOUT)
    return figure


def distribution_figures(frame: Any) -> list[tuple[str, Any]]:
    """Time to solution (wall and simulated) and cost per episode, per agent."""
    import plotly.graph_objects as go

    done = frame[frame["status"] == "completed"]
    if done.empty:
        return []
    specs = [("metrics.inputs.time_to_solution_s", "time to solution as scored (s)"),
             ("duration_s", "wall time per episode (s)"), ("sim_time_s", "simulated world time per episode (s)"),
             ("steps", "steps per episode")]
    cost_column = next((c for c in ("llm.cost_usd", "metrics.inputs.inference_cost_usd") if c in done.columns
                        and done[c].notna().any()), None)
    if cost_column:
        specs.append((cost_column, "inference cost per episode ($)"))
    figures = []
    for column, title in specs:
        if column not in done.columns or not done[column].notna().any():
            continue
        figure = go.Figure()
        for agent, rows in done.groupby("agent"):
            figure.add_trace(go.Box(y=rows[column], name=agent, boxpoints="all", jitter=0.3, pointpos=0))
        figure.update_layout(title=title, showlegend=False, **_LAYOUT)
        figures.append((f"dist-{column}", figure))
    return figures


def telemetry_figures(frame: Any) -> list[tuple[str, Any]]:
    """Prefill vs decode time, prompt vs generated tokens and prefix-cache reuse, when LLM calls were recorded."""
    import plotly.graph_objects as go

    if "llm.requests" not in frame.columns or not (frame["llm.requests"].fillna(0) > 0).any():
        return []
    llm = frame[frame["llm.requests"].fillna(0) > 0]
    means = llm.groupby("agent").mean(numeric_only=True)
    figures = []
    time_cols = [c for c in ("llm.prefill_s", "llm.decode_s") if c in means.columns and means[c].notna().any()]
    if time_cols:
        figure = go.Figure([go.Bar(x=means.index, y=means[c], name=c.split(".")[1]) for c in time_cols])
        figure.update_layout(title="prefill vs decode time per episode (mean s)", barmode="stack", **_LAYOUT)
        figures.append(("llm-time", figure))
    token_cols = [c for c in ("llm.prompt_tokens", "llm.cached_prompt_tokens", "llm.completion_tokens")
                  if c in means.columns and means[c].notna().any()]
    if token_cols:
        figure = go.Figure([go.Bar(x=means.index, y=means[c], name=c.split(".")[1]) for c in token_cols])
        figure.update_layout(title="tokens per episode (mean): prompt, of which cached, and generated",
                             barmode="group", **_LAYOUT)
        figures.append(("llm-tokens", figure))
    if "llm.prefix_reuse_rate" in means.columns and means["llm.prefix_reuse_rate"].notna().any():
        figure = go.Figure(go.Bar(x=means.index, y=means["llm.prefix_reuse_rate"]))
        figure.update_layout(title="prefix-cache reuse (cached / prompt tokens)", yaxis={"range": [0, 1]}, **_LAYOUT)
        figures.append(("llm-prefix", figure))
    return figures
