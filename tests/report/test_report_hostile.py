"""A records file is untrusted input: a foreign or tampered one puts script, HTML and JS-URL payloads into every string
field a record can hold, and the report must show them as text, run none of them, and carry a CSP that would stop any
it missed. The page is opened in headless Chromium, as the report's own browser test does."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from test_report_html import _browser

from opsgym.record import EpisodeRecord
from opsgym.report import write_report

PAYLOAD = ("</script><script>document.title='pwned-1';window.pwned=1</script><!--<script>"
           "\"><img src=x onerror=\"document.title='pwned-2';window.pwned=2\">"
           "<svg onload=window.pwned=3></svg>' onmouseover='window.pwned=4' "
           "<a href=\"javascript:window.pwned=5\">link</a> javascript:window.pwned=6 \u2028\u2029 ")

KEY_PAYLOAD = "\"><img src=x onerror=window['pwned']=7>"
"""For keys that become report columns: without dots, which the frame reads as nesting."""
FREE_KEYS = [("metrics",), ("metrics", "inputs"), ("llm_summary",), ("spec", "agent_config"), ("spec", "versions"),
             ("spec", "env_kwargs"), ("spec", "model"), ("spec", "llm_config"), ("outcome", "ground_truth"),
             ("outcome", "extra"), ("outcome", "variables")]
"""Free-form dicts whose keys a record's author chooses (metric names, version names …): each gets hostile keys."""


def _poison(value: Any) -> Any:
    if isinstance(value, str):
        return PAYLOAD + value
    if isinstance(value, dict):
        return {k: _poison(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v) for v in value]
    return value


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def hostile(record: dict[str, Any], rename_metrics: bool = False) -> dict[str, Any]:
    """``record`` with the payload in front of every string value the model still accepts, a hostile copy of every
    free-form key, and with ``rename_metrics`` every metric renamed (so the report's score columns are hostile)."""
    out = _poison(record)
    out["schema"], out["version"] = record["schema"], record["version"]
    for path in FREE_KEYS:
        try:
            parent, key = _at(out, path[:-1]), path[-1]
        except (KeyError, TypeError):
            continue
        if isinstance(parent, dict) and isinstance(parent.get(key), dict):
            parent[key] |= {KEY_PAYLOAD + k: v for k, v in parent[key].items()}
    if rename_metrics:
        out["metrics"] = {KEY_PAYLOAD + k: v for k, v in record["metrics"].items()}
    for _ in range(20):  # put back only what a typed field refuses (a Literal status, a check's kind …)
        try:
            EpisodeRecord.model_validate(copy.deepcopy(out))
            return out
        except ValidationError as exc:
            for error in exc.errors():
                loc = error["loc"]
                try:
                    _at(out, loc[:-1])[loc[-1]] = _at(record, loc)
                except (KeyError, IndexError, TypeError):
                    pass
    raise AssertionError("could not make a valid hostile record")


@pytest.fixture(scope="module", params=[False, True], ids=["hostile-values", "hostile-metric-names"])
def hostile_report(request: pytest.FixtureRequest, demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("foreign") / "hostile-run"
    run.mkdir()
    lines = [json.loads(line) for line in (demo_run / "records.jsonl").read_text().splitlines()]
    poisoned = [hostile(r, rename_metrics=request.param) for r in lines]
    assert any(r["outcome"] and r["outcome"]["profile"].startswith(PAYLOAD) for r in poisoned)
    bad_line = {"schema": "opsgym.episode", "version": 1, "status": "completed",
                "outcome": {"budgets": {PAYLOAD: "not a number"}}}  # its field path lands in "skipped lines"
    (run / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*poisoned, bad_line]))
    return write_report(run)


def _inline_scripts(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)


def test_record_data_reaches_scripts_only_as_escaped_json(hostile_report: Path):
    page = hostile_report.read_text()
    blocks = _inline_scripts(page)
    assert len(blocks) == 4  # plotly.js, the episodes and figures JSON, report.js: the payload opened no script
    for attrs, body in blocks:
        if "application/json" in attrs:
            assert not re.search("[<>&\u2028\u2029]", body)
            json.loads(body)


def test_the_page_has_a_csp_that_runs_only_its_own_scripts(hostile_report: Path):
    page = hostile_report.read_text()
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert policy and page.index(policy.group(0)) < page.index("<script")
    directives = dict(d.strip().split(" ", 1) for d in policy.group(1).split(";"))
    assert directives["default-src"] == "'none'" and "unsafe" not in directives["script-src"]
    executable = [body for attrs, body in _inline_scripts(page) if "application/json" not in attrs]
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in executable}
    assert set(directives["script-src"].split()) == hashes


SCAN = """return {
  title: document.title, pwned: window.pwned === undefined ? null : window.pwned,
  handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on')))
    .map((e) => e.outerHTML.slice(0, 80)),
  jsLinks: document.querySelectorAll('[href^="javascript:"], [src^="javascript:"]').length,
  images: document.querySelectorAll('img, iframe, object, embed').length,
  drawn: document.querySelectorAll('.plotly-graph-div .main-svg').length,
  text: document.body.innerText,
};"""


@pytest.mark.timeout(180)
def test_no_payload_runs_in_headless_chromium(hostile_report: Path, tmp_path: Path):
    from selenium.webdriver.common.by import By

    driver = _browser(tmp_path)
    try:
        driver.get(hostile_report.as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "tr.episode")
        for row in [None, *rows]:  # then render every drill-down: record data turned into HTML by report.js
            if row is not None:
                driver.execute_script("arguments[0].click()", row)
            state = driver.execute_script(SCAN)
            assert (state["title"], state["pwned"], state["handlers"], state["jsLinks"], state["images"]) == (
                "opsgym run hostile-run", None, [], 0, 0)
        assert len(rows) == 16
        assert state["drawn"] >= 4  # the charts still draw under the CSP, with hostile names in them
        assert "onerror=\"document.title='pwned-2'" in state["text"]  # shown as text
        assert "<svg onload=window.pwned=3>" in state["text"]
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
    finally:
        driver.quit()


@pytest.mark.timeout(180)
def test_the_csp_stops_a_script_the_escaping_might_have_missed(hostile_report: Path, tmp_path: Path):
    page = hostile_report.read_text().replace("<main>", "<main><script>window.pwned='inline'</script>"
                                              "<img src=x onerror=\"window.pwned='handler'\">", 1)
    tampered = tmp_path / "tampered.html"
    tampered.write_text(page)
    driver = _browser(tmp_path)
    try:
        driver.get(tampered.as_uri())
        assert driver.execute_script("return window.pwned === undefined") is True
        assert driver.execute_script("return document.querySelectorAll('.main-svg').length") > 0  # own scripts ran
    finally:
        driver.quit()


def test_odd_numbers_in_a_foreign_summary_do_not_break_the_report(tmp_path: Path):
    run = tmp_path / "odd"
    run.mkdir()
    spec = {"run_id": "r", "env_id": "e", "seed": 0, "agent": "a"}
    lines = [{"schema": "opsgym.episode", "version": 1, "status": "completed", "spec": spec | {"episode_key": key},
              "llm_summary": summary, "metrics": {"TaskEfficacy": value}, "reward": value}
             for key, summary, value in [("k1", {"requests": 1, "prompt_tokens": "many", "completion_tokens": True},
                                          float("nan")),
                                         ("k2", {"requests": 1, "prompt_tokens": float("inf")}, float("inf"))]]
    (run / "records.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    page = write_report(run).read_text()
    data = re.search(r'<script id="episodes-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    rewards = [e["reward"] for e in json.loads(data)["episodes"]]  # JSON.parse refuses NaN: written as strings
    assert rewards == ["NaN", "Infinity"]
