"""Domains as a plugin kind: SRE and SWE register like a third-party domain, and a toy domain from an installed
plugin package runs end to end (gym.make, the runner, the CLI) with no change to opsgym."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from opsgym import plugins
from opsgym.errors import TaskSpecError
from opsgym.tasks import load_task
from tests.conftest import REPO, pip_install_target, run_python


@pytest.fixture(scope="session")
def toy_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/fixtures/toy-domain-plugin installed: the quiz domain, its task Quiz-1, and a domain hook that raises."""
    return pip_install_target(REPO / "tests" / "fixtures" / "toy-domain-plugin", tmp_path_factory.mktemp("toy"))


def test_sre_and_swe_register_through_the_domain_hook():
    domains = plugins.entries("domain")
    assert domains["sre"].plugin == "opsgym.sre.domain" and domains["swe"].plugin == "opsgym.swe.domain"
    sre, swe = domains["sre"].factory, domains["swe"].factory
    assert (sre.default_backend, sre.backend_kind, sre.submit_needs_answer) == ("sim", "cluster backend", True)
    assert (swe.default_backend, swe.backend_kind, swe.submit_needs_answer) == ("bwrap", "sandbox backend", False)
    task = plugins.get("task", "SRE-1").factory
    assert task.section is task.sre and type(task.section) is sre.section


EPISODE = """
import json, gymnasium as gym, opsgym
env = gym.make("opsgym/Quiz-1")
obs, info = env.reset(seed=3)
steps = [env.step(a) for a in ("help", "say {said}", "submit")]
obs, reward, terminated, truncated, info = steps[-1]
out = info["outcome"]
print(json.dumps({{"first": steps[0][0], "terminated": terminated, "reward": reward, "domain": out["domain"],
                  "profile": out["profile"], "backend": out["backend"], "correct": out["remediation_correct"],
                  "extra": out["extra"], "efficacy": info["metrics"]["TaskEfficacy"]}}))
"""


@pytest.mark.parametrize(("said", "correct"), [("42", 1.0), ("41", 0.0)])
def test_a_toy_domain_from_an_installed_plugin_plays_an_episode_with_outcome_and_metrics(toy_plugin, said, correct):
    proc = run_python(EPISODE.format(said=said), extra_path=toy_plugin)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "say TEXT" in got["first"]  # the domain's tool is listed beside the generic ones
    assert got["terminated"] and got["domain"] == "quiz" and got["profile"] == "swe" and got["backend"] == "paper"
    assert got["correct"] == correct and got["extra"] == {"said": said, "backend": "paper"}
    assert got["reward"] == got["efficacy"] and (got["efficacy"] > 0.5) == bool(correct)  # scored like any task


def test_opsgym_run_plays_the_toy_domain_and_refuses_a_backend_it_does_not_have(toy_plugin, tmp_path):
    code = ("from opsgym.cli import app\nimport sys\n"
            f"app(['run', '--env', 'opsgym/Quiz-1', '--seeds', '0-1', '--out', {str(tmp_path / 'run')!r}, "
            "'--no-report'])")
    proc = run_python(code, extra_path=toy_plugin, env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "records.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["completed", "completed"]
    assert all(r["outcome"]["remediation_correct"] == 1.0 and r["outcome"]["domain"] == "quiz" for r in records)
    bad = run_python(code.replace("'--no-report'", "'--no-report', '--backend', 'sim'").replace("/run'", "/bad'"),
                     extra_path=toy_plugin, env={"COLUMNS": "200"})
    assert bad.returncode == 2 and "unknown QUIZ backend 'sim'" in bad.stderr and "paper" in bad.stderr


def test_a_domain_plugin_that_raises_is_reported_by_name_and_the_others_load(toy_plugin):
    code = ("import json, opsgym\nfrom opsgym import plugins\n"
            "print(json.dumps([sorted(plugins.entries('domain')), plugins.PLUGIN_ERRORS]))")
    proc = run_python(code, extra_path=toy_plugin)
    assert proc.returncode == 0, proc.stderr
    domains, errors = json.loads(proc.stdout.strip().splitlines()[-1])
    assert domains == ["quiz", "sre", "swe"]
    assert len(errors) == 1 and "'broken-domain'" in errors[0] and "register_domains" in errors[0]
    assert "cannot describe itself" in errors[0]


def test_an_unknown_domain_names_the_file_the_field_and_the_registered_domains(tmp_path):
    (tmp_path / "task.yaml").write_text("id: Odd-1\ndomain: quizz\ntitle: t\nquizz: {}\n")
    with pytest.raises(TaskSpecError) as err:
        load_task(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "task.yaml") in message
    assert "field domain: Input should be a registered domain: 'sre' or 'swe'" in message
    assert "field quizz: Extra inputs" in message  # a section no registered domain claims


def test_a_toy_task_section_is_checked_by_the_toy_domain_model(toy_plugin, tmp_path):
    (tmp_path / "task.yaml").write_text("id: Quiz-2\ndomain: quiz\ntitle: t\nquiz: {question: q}\n")
    code = (f"from opsgym.tasks import load_task\ntry:\n    load_task({str(tmp_path)!r})\n"
            "except Exception as exc:\n    print(exc)\n")
    proc = run_python(code, extra_path=toy_plugin)
    assert proc.returncode == 0, proc.stderr
    assert "field quiz.answer: Field required" in proc.stdout


CORE = ("env.py", "tasks.py", "plugins.py", "runner/plan.py", "runner/run.py", "runner/episode.py",
        "runner/executors.py")


@pytest.mark.parametrize("module", CORE)
def test_the_core_names_no_domain(module):
    tree = ast.parse((REPO / "opsgym" / module).read_text())
    named = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in ("sre", "swe")]
    assert named == [], f"opsgym/{module} names a domain at lines {named}"
