"""``opsgym task check``: a sound task passes; a wrong oracle and a grader a blunt move fools are both caught; every
task of the catalog holds (one seed here, five under the ``slow`` marker)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from opsgym.cli import app
from opsgym.errors import OpsGymError
from opsgym.taskcheck import AGENTS, check_task, parse_seed_range, verdict
from opsgym.tasks import catalog_folders, envs_root, load_task

runner = CliRunner()
CONTAINER = "spec.template.spec.containers[name=${service}]"


def _sre_folders() -> list[Path]:
    """Every SRE task folder of the shipped catalog, found afresh (tasks are added all the time); a folder that
    does not load is kept, so that its test fails with the loader's message instead of vanishing."""
    folders = []
    for folder in catalog_folders():
        try:
            if load_task(folder).domain != "sre":
                continue
        except OpsGymError:
            pass
        folders.append(folder)
    return folders


def _copy_task(name: str, tmp_path: Path) -> tuple[Path, dict]:
    """A built-in task copied out of the catalog (an unregistered folder), its paths made absolute; and its YAML."""
    folder = tmp_path / name
    shutil.copytree(envs_root() / name, folder)
    doc = yaml.safe_load((folder / "task.yaml").read_text())
    app_ref = doc["sre"]["app"]
    if not app_ref.startswith("opsgym:"):
        doc["sre"]["app"] = str((envs_root() / name / app_ref).resolve())
    if "uses" in doc:
        doc["uses"] = [str((envs_root() / name / used).resolve()) for used in doc["uses"]]
    doc["id"] = f"{doc['id']}-COPY"
    return folder, doc


def _write(folder: Path, doc: dict) -> Path:
    (folder / "task.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder


def test_a_sound_task_passes_every_row():
    result = runner.invoke(app, ["task", "check", "SRE-1", "--seeds", "2"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "SRE-1: every check holds over seeds [0, 1]" in result.output
    for agent in AGENTS:
        assert agent in result.output
    assert "KubePodCrashLooping" in result.output  # what the reset gate saw: the alert's first line …
    assert ": crashloop" in result.output  # … and the observed gate state


def test_a_wrong_oracle_fails_and_is_named(tmp_path):
    folder, doc = _copy_task("sre-1-bad-configmap-value", tmp_path)
    doc["solution"] = [step.replace('"${key}": "${good_value}"', '"${key}": "${bad_value}"')
                       for step in doc["solution"]]
    assert any("${bad_value}\"}}" in step for step in doc["solution"])  # the patch now puts the bad value back
    result = runner.invoke(app, ["task", "check", str(_write(folder, doc)), "--seeds", "1", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["ok"] is False
    assert [line.split(": ")[0] for line in report["failures"]] == ["SRE-1-COPY seed 0 oracle"]
    assert "oracle scored TaskEfficacy" in report["failures"][0]
    assert "configmap-value-valid" in report["failures"][0]


def _liveness_task(tmp_path: Path, stable_s: float = 120, repairable: str = "livenessProbe.httpGet.port") -> Path:
    """SRE-3 turned into "a liveness probe on a port nothing listens on": the container is killed ~40 s after each
    start (10 s delay + 3 failures 10 s apart). With ``stable_s`` far shorter, pods that have just been created
    look healthy through the whole judging window. ``repairable``: what a fix may change in the container."""
    folder, doc = _copy_task("sre-3-oom-memory-limit", tmp_path)
    sre = doc["sre"]
    sre["fault"] = [{"kind": "Deployment", "name": "${service}",
                     "set": {f"{CONTAINER}.livenessProbe.httpGet.port": 9090}}]
    sre["repairable"] = [{"kind": "Deployment", "name": "${service}",
                          "paths": [f"{CONTAINER}.{repairable}"]}]
    sre["checks"] = []
    sre["stable_s"] = stable_s
    root = {"kind": "Deployment", "name": "${service}", "namespace": "${namespace}",
            "field": f"{CONTAINER}.livenessProbe.httpGet.port"}
    doc["ground_truth"] = {"diagnosis": "${service} is killed by its liveness probe on port 9090",
                           "diagnosis_keywords": [["${service}"], ["liveness"]], "root_cause": root,
                           "root_cause_keywords": [["${service}"], ["liveness"]],
                           "remediation": "point the liveness probe back at port http"}
    fix = {"spec": {"template": {"spec": {"containers": [{"name": "${service}",
                                                          "livenessProbe": {"httpGet": {"port": "http"}}}]}}}}
    answer = {"diagnosis": "${service} is killed by its liveness probe on port 9090", "root_cause": root,
              "remediation": "pointed the liveness probe back at port http"}
    doc["solution"] = ["kubectl describe deployment ${service} -n ${namespace}",
                       f"kubectl patch deployment ${{service}} -n ${{namespace}} -p '{json.dumps(fix)}'",
                       "kubectl rollout status deployment/${service} -n ${namespace}",
                       f"submit {json.dumps(answer)}"]
    doc["hints"] = ["Look at the liveness probe of ${service}."]
    return _write(folder, doc)


def test_a_probe_the_grader_lets_through_fails_the_check(tmp_path):
    weak = _liveness_task(tmp_path / "weak", stable_s=1)
    result = runner.invoke(app, ["task", "check", str(weak), "--seeds", "1"], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    fails = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert any("seed 0 probe:delete-recreate: marked fixed" in line and "-restarts-stable" in line
               for line in fails), result.output
    assert not any(" oracle:" in line for line in fails), result.output  # the oracle still solves it


def test_a_repairable_path_wider_than_the_fault_lets_a_probe_through(tmp_path):
    """The whole liveness probe repairable (not just its port): deleting the probe silences the kills."""
    weak = _liveness_task(tmp_path / "wide", repairable="livenessProbe")
    report = check_task(load_task(weak), [0])
    assert [line.split(": ")[0] for line in report.failures()] == ["SRE-3-COPY seed 0 probe:remove-liveness"]
    assert "marked fixed" in report.failures()[0]


def test_the_same_task_with_a_narrow_repairable_and_a_long_enough_window_holds(tmp_path):
    """The control for the two tests above: only ``stable_s`` or ``repairable`` differs, and no probe passes."""
    sound = _liveness_task(tmp_path / "sound")
    report = check_task(load_task(sound), [0])
    assert report.ok, report.failures()
    rows = {r.agent: r for r in report.rows}
    assert any(name.endswith("-restarts-stable") for name in rows["probe:delete-recreate"].failed)
    assert any(name.endswith("-probes-kept") for name in rows["probe:remove-liveness"].failed)


@pytest.mark.parametrize(("agent", "control", "remediation", "mutated", "fails"), [
    ("do-nothing", False, 1.0, False, True),
    ("do-nothing", False, 0.0, False, False),
    ("do-nothing", True, 1.0, False, False),   # a control: saying "nothing is wrong" is the right answer
    ("do-nothing", True, 0.0, False, True),
    ("random", True, 1.0, True, True),         # a control: a mutation that still scores 1.0 is a grader hole
    ("random", True, 1.0, False, False),
    ("probe:scale-to-zero", True, 1.0, True, True),
    ("probe:scale-to-zero", False, 1.0, True, True),
    ("probe:scale-to-zero", False, 0.0, True, False),
])
def test_verdicts(agent, control, remediation, mutated, fails):
    checks = [{"name": "x-replicas-kept", "passed": True, "kind": "safety"},
              {"name": "x-pods-ready", "passed": remediation == 1.0, "kind": "remediation"}]
    assert bool(verdict(agent, control, remediation, remediation, checks, mutated)) is fails


def test_a_row_marked_fixed_names_the_checks_that_should_have_failed():
    checks = [{"name": "x-replicas-kept", "passed": True, "kind": "safety"},
              {"name": "x-pods-ready", "passed": True, "kind": "remediation"},
              {"name": "shop-request-flow", "passed": False, "kind": "collateral"}]
    # an idle agent leaves the safety checks green by right; a probe's blunt move should have failed them
    assert verdict("do-nothing", False, 0.2, 1.0, checks, False).endswith("should not have: x-pods-ready")
    assert verdict("probe:scale-to-zero", False, 0.2, 1.0, checks, True).endswith(
        "should not have: x-replicas-kept, x-pods-ready")


def test_seed_range_is_inclusive_and_checked():
    assert parse_seed_range("0:4") == [0, 1, 2, 3, 4]
    assert parse_seed_range("7:7") == [7]
    for bad in ("4:0", "a:b", "3", "-1:2"):
        with pytest.raises(OpsGymError, match="seed range"):
            parse_seed_range(bad)


def test_bad_arguments_exit_2():
    assert runner.invoke(app, ["task", "check", "SRE-NOPE"]).exit_code == 2
    assert runner.invoke(app, ["task", "check", "SRE-1", "--seeds", "2", "--seed-range", "0:1"]).exit_code == 2
    assert runner.invoke(app, ["task", "check", "SRE-1", "--seed-range", "2:1"]).exit_code == 2


def _check_catalog_task(folder: Path, seeds: list[int]) -> None:
    report = check_task(load_task(folder), seeds)
    assert report.ok, "\n".join(report.failures())


@pytest.mark.parametrize(("folder", "seed"), [(f, i % 5) for i, f in enumerate(_sre_folders())],
                         ids=lambda p: p.name if isinstance(p, Path) else f"seed{p}")
def test_every_catalog_task_holds_on_one_seed(folder, seed):
    """CI's sample: one seed per task, rotating over 0-4 across the catalog (every seed: the slow test below)."""
    _check_catalog_task(folder, [seed])


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("OPSGYM_CATALOG_SEEDS"),
                    reason="every seed of every catalog task (~10 min): OPSGYM_CATALOG_SEEDS=1 pytest -m slow "
                           "tests/test_taskcheck.py; CI runs the one-seed sample above")
@pytest.mark.parametrize("folder", _sre_folders(), ids=lambda p: p.name)
def test_every_catalog_task_holds_on_seeds_0_to_4(folder):
    _check_catalog_task(folder, parse_seed_range("0:4"))
