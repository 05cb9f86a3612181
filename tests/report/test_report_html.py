"""The HTML report, opened in a real headless Chromium: charts draw, the drill-down works, no JS errors, no network."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from opsgym.report import write_report
from opsgym.report.html import settled_records
from opsgym.runner import load_run

CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver")


@pytest.fixture(scope="module")
def report(demo_run: Path) -> Path:
    return write_report(demo_run)


def test_the_report_is_self_contained(report: Path):
    text = report.read_text()
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)  # everything inline: viewable offline
    assert "Plotly.newPlot" in text and 'id="episodes-data"' in text


class TableText(HTMLParser):
    """The cell texts of the table with a given id."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows = table_id, False, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and ("id", self.table_id) in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data


def test_the_summary_has_a_row_per_cell_with_crashes_scored_zero(report: Path):
    parser = TableText("summary-table")
    parser.feed(report.read_text())
    header, *rows = parser.rows
    cells = {(row[1], row[2]): dict(zip(header, row, strict=True)) for row in rows}
    assert set(cells) == {("oracle", "none"), ("oracle", "noise"), ("random", "none"), ("random", "noise")}
    oracle = cells[("oracle", "none")]
    assert (oracle["episodes"], oracle["ok"], oracle["agent fail"], oracle["infra fail"]) == ("4", "3", "1", "0")
    assert oracle["reward"] == "0.750 ± 0.796"  # 1, 1, 1 and seed 3's agent failure as 0; t(0.975, 3) = 3.182
    assert oracle["TaskEfficacy"] == "0.750 ± 0.796" and oracle["fixed"] == "75%"


def _browser(tmp_path: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a dev dependency")
    from selenium.webdriver.chrome.service import Service

    if not Path(CHROMIUM).exists() or CHROMEDRIVER is None:
        pytest.skip("needs Debian's chromium and chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1800",
                f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.mark.timeout(180)
def test_charts_and_drill_down_render_in_headless_chromium(report: Path, demo_run: Path, tmp_path: Path):
    from selenium.webdriver.common.by import By

    records = sorted(settled_records(load_run(demo_run)[1])[0],
                     key=lambda r: (r.spec.env_id, r.spec.label, r.spec.perturbation or "", r.spec.seed))
    driver = _browser(tmp_path)
    try:
        driver.get(report.as_uri())
        figures = driver.find_elements(By.CSS_SELECTOR, "div.plotly-graph-div")
        assert len(figures) >= 8  # radar + bars, adaptivity, 4 distributions, telemetry
        for figure in figures:  # each one was actually drawn, not just declared
            assert figure.find_elements(By.CSS_SELECTOR, ".main-svg"), figure.get_attribute("id")
        ids = {f.get_attribute("id") for f in figures}
        assert {"fig-radar-sre", "fig-bars-sre", "fig-adaptivity", "fig-llm-time", "fig-llm-prefix"} <= ids

        rows = driver.find_elements(By.CSS_SELECTOR, "tr.episode")
        assert len(rows) == len(records) == 16
        crashed = next(i for i, r in enumerate(records) if r.status == "agent_failure")
        driver.execute_script("arguments[0].scrollIntoView()", rows[crashed])
        rows[crashed].click()
        panel = driver.find_element(By.ID, "drilldown")
        assert panel.get_attribute("data-episode") == str(crashed)
        assert "no solution for seed 3" in panel.text and "agent.reset" in panel.text

        solved = next(i for i, r in enumerate(records) if r.spec.agent == "oracle" and r.status == "completed")
        rows[solved].click()
        steps = panel.find_elements(By.CSS_SELECTOR, "tr.step")
        assert len(steps) == len(records[solved].steps) == 3
        assert "mutate" in steps[1].text and "ground truth" in panel.text and "call 1" in steps[1].text
        screenshot = tmp_path / "report.png"
        driver.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 10_000
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
    finally:
        driver.quit()
