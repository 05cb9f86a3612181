"""The task catalog: every shipped task validates, and a broken task file says file, field and reason."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest

import opsgym  # noqa: F401  (registers the gym ids)
from opsgym import plugins
from opsgym.errors import TaskSpecError
from opsgym.tasks import catalog_folders, load_task

GOOD = """
id: Broken-1
domain: swe
title: t
swe:
  instance_id: x
  problem_statement: p
  FAIL_TO_PASS: [tests/test_x.py::test_x]
"""


@pytest.mark.parametrize("folder", catalog_folders(), ids=lambda p: p.name)
def test_every_shipped_task_validates_and_is_a_gym_id(folder):
    spec = load_task(folder)
    assert spec.path == folder.resolve()
    assert f"opsgym/{spec.id}" in gym.registry
    assert plugins.get("task", spec.id).factory is spec


def test_catalog_has_the_sre_incidents_and_swe_suite():
    ids = set(plugins.entries("task"))
    assert {"SRE-1", "SRE-2", "SRE-3"} <= ids
    swe = [t for t in ids if t.startswith("SWE-")]
    assert len(swe) >= 12
    assert "opsgym/SWE-Lite" in gym.registry


def write(tmp_path, text):
    (tmp_path / "task.yaml").write_text(text)
    return tmp_path


def test_a_valid_minimal_file_loads(tmp_path):
    assert load_task(write(tmp_path, GOOD)).id == "Broken-1"


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (GOOD + "max_steps: lots\n", "max_steps", "valid integer"),
        (GOOD.replace("domain: swe", "domain: dns"), "domain", "'sre' or 'swe'"),
        (GOOD + "colour: red\n", "colour", "Extra inputs"),
        (GOOD.replace("  problem_statement: p\n", ""), "swe.problem_statement", "Field required"),
        (GOOD.replace("domain: swe", "domain: sre"), "(top level)", "'sre' section is missing"),
    ],
)
def test_a_broken_file_names_file_field_and_reason(tmp_path, text, field, reason):
    with pytest.raises(TaskSpecError) as err:
        load_task(write(tmp_path, text))
    message = str(err.value)
    assert str(tmp_path / "task.yaml") in message
    assert f"field {field}:" in message
    assert reason in message


def test_invalid_yaml_and_missing_files_are_clear(tmp_path):
    with pytest.raises(TaskSpecError, match="not valid YAML"):
        load_task(write(tmp_path, "id: [unclosed"))
    with pytest.raises(TaskSpecError, match="no such task file"):
        load_task(tmp_path / "nowhere")
    with pytest.raises(TaskSpecError, match="expected a mapping"):
        load_task(write(tmp_path, "- a list"))


def test_the_readme_catalog_table_is_the_catalog():
    """The README's counts are the tasks that load (``scripts/readme_catalog.py`` rewrites the table)."""
    from opsgym.catalog import markdown

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- catalog -->\n", 1)[1].split("<!-- /catalog -->", 1)[0]
    assert block.strip() == markdown().strip(), "run .venv/bin/python scripts/readme_catalog.py"


def test_the_sre_suites_are_the_whole_catalog_and_a_stratified_twenty():
    sre = [e.factory for e in plugins.entries("task").values() if e.factory.domain == "sre"]
    assert all("SRE-Full" in t.suites for t in sre), [t.id for t in sre if "SRE-Full" not in t.suites]
    lite = [t for t in sre if "SRE-Lite" in t.suites]
    assert len(lite) == 20
    assert len({t.sre.family for t in lite}) >= 10
    assert {t.difficulty for t in lite} == {"easy", "medium", "hard"}
    assert any(t.sre.control for t in lite)
    assert {"opsgym/SRE-Lite", "opsgym/SRE-Full"} <= set(gym.registry)


def test_the_catalog_is_the_breadth_the_benchmark_promises():
    """≥ 50 SRE tasks in ≥ 10 fault families, ≥ 3 no-fault controls, each tier present in most families, and at
    least a third of the alerts naming the symptom rather than the broken object."""
    from opsgym.catalog import families

    found = families("sre")
    faults = [f for f in found if f.name != "control"]
    assert sum(len(f.ids) for f in found) >= 50 and len(faults) >= 10
    assert len(next(f for f in found if f.name == "control").ids) >= 3
    assert sum(f.symptom_alerts for f in found) * 3 >= sum(len(f.ids) for f in found)
    assert sum(f.tiers["hard"] > 0 for f in faults) >= len(faults) - 1
