// The report's only script besides plotly.js (the page's CSP runs nothing else): it draws the charts from the
// embedded figure JSON and renders the per-episode drill-down from the embedded episode JSON. Every record value it
// puts into HTML goes through esc(); the figure strings arrive already escaped (opsgym/report/page.py).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("episodes-data").textContent);
  const figures = JSON.parse(document.getElementById("figures-data").textContent);
  const panel = document.getElementById("drilldown");

  figures.forEach((figure) => {
    const element = document.getElementById(figure.id);
    if (element) { Plotly.newPlot(element, figure.data, figure.layout, { displaylogo: false, responsive: true }); }
  });

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function num(value, digits) {
    return value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);
  }
  function kvTable(pairs) {
    return '<table class="kv">' + pairs.map(([k, v]) => "<tr><td>" + esc(k) + "</td><td>" + v + "</td></tr>").join("") + "</table>";
  }
  function json(value) { return "<pre>" + esc(JSON.stringify(value, null, 2)) + "</pre>"; }

  function llmCall(call, index) {
    const head = "call " + index + ": " + esc(call.model || call.backend) + " · prompt " + esc(call.prompt_tokens) +
      " (cached " + esc(call.cached_prompt_tokens) + ") · generated " + esc(call.completion_tokens) +
      " · " + num(call.latency_s, 3) + " s" + (call.error ? ' · <span class="status-infra_failure">' + esc(call.error) + "</span>" : "");
    return "<details><summary>" + head + "</summary><div>last message:</div><pre>" + esc(call.last_message) +
      "</pre><div>output:</div><pre>" + esc(call.output) + "</pre></details>";
  }

  function render(index) {
    const ep = data.episodes[index];
    document.querySelectorAll("tr.episode").forEach((row) => row.classList.toggle("selected", Number(row.dataset.index) === index));
    let html = "<h3>" + esc(ep.env_id) + " · seed " + esc(ep.seed) + " · " + esc(ep.agent) +
      (ep.perturbation !== "none" ? " · " + esc(ep.perturbation) : "") + "</h3>";
    html += kvTable([
      ["status", '<span class="status-' + esc(ep.status) + '">' + esc(ep.status) + "</span> (attempt " + esc(ep.attempt) + ")"],
      ["reward", num(ep.reward, 3)], ["steps", esc(ep.steps.length)], ["wall time", num(ep.duration_s, 3) + " s"],
      ["episode key", esc(ep.episode_key)], ["task version", esc(ep.task_version)],
    ]);
    if (ep.error) {
      html += "<h3>error (" + esc(ep.error.kind) + ", in " + esc(ep.error.where) + ")</h3><pre>" + esc(ep.error.type + ": " + ep.error.message) + "</pre>";
    }
    html += "<h3>first observation</h3><pre>" + esc(ep.observation0) + "</pre>";
    html += '<h3>trajectory</h3><table class="trajectory"><tr><th>#</th><th>action</th><th>class</th><th class="num">agent s</th><th class="num">env s</th><th>observation and LLM calls</th></tr>';
    ep.steps.forEach((step) => {
      const calls = step.llm_call_ids.map((i) => llmCall(ep.llm_calls[i], i)).join("");
      html += '<tr class="step"><td>' + esc(step.index) + "</td><td><pre>" + esc(step.action) + "</pre></td><td><span class=\"cls cls-" +
        esc(step.cls) + '">' + esc(step.cls || "?") + "</span>" + (step.ok ? "" : " ✗ " + esc(step.error)) + '</td><td class="num">' +
        num(step.agent_s, 3) + '</td><td class="num">' + num(step.env_s, 3) + "</td><td><details><summary>" +
        esc(step.observation.slice(0, 120)) + "</summary><pre>" + esc(step.observation) + "</pre></details>" + calls + "</td></tr>";
    });
    html += "</table>";
    if (ep.outcome) {
      html += "<h3>answer</h3>" + json(ep.outcome.answer) + "<h3>ground truth</h3>" + json(ep.outcome.ground_truth);
      html += "<h3>end-state checks</h3><table><tr><th>check</th><th>kind</th><th>passed</th><th>detail</th></tr>" +
        (ep.outcome.checks || []).map((c) => "<tr><td>" + esc(c.name) + "</td><td>" + esc(c.kind) + "</td><td>" +
        (c.passed ? "✓" : "✗") + "</td><td>" + esc(c.detail) + "</td></tr>").join("") + "</table>";
    }
    if (ep.metrics && Object.keys(ep.metrics).length) { html += "<h3>metrics (scores and raw inputs)</h3>" + json(ep.metrics); }
    html += '<p class="note">Text is shortened here; records.jsonl holds every observation and LLM message in full.</p>';
    panel.innerHTML = html;
    panel.dataset.episode = String(index);
  }

  document.querySelectorAll("tr.episode").forEach((row) => {
    row.addEventListener("click", () => { render(Number(row.dataset.index)); panel.scrollIntoView({ behavior: "smooth" }); });
  });
  const filter = document.getElementById("episode-filter");
  if (filter) {
    filter.addEventListener("input", () => {
      const needle = filter.value.toLowerCase();
      document.querySelectorAll("tr.episode").forEach((row) => { row.style.display = row.textContent.toLowerCase().includes(needle) ? "" : "none"; });
    });
  }
  if (data.episodes.length) { render(0); }
})();
