"""The grading copy: the base's pytest configuration, files reset without writing through links, and a pytest that
the tree under test cannot replace."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from opsgym.errors import TaskSpecError
from opsgym.swe.evaluate import PYTEST_ARGS
from opsgym.swe.grading_tree import real_target, reset_pytest_config, restore
from opsgym.swe.workspace import copy_tree

PYPROJECT = "[project]\nname = 'calc'\n\n[tool.pytest.ini_options]\naddopts = '-q'\n"


def _write(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture
def trees(tmp_path):
    base, tree = tmp_path / "base", tmp_path / "tree"
    _write(base, {"pyproject.toml": PYPROJECT, "setup.cfg": "[metadata]\nname = calc\n",
                  "tests/conftest.py": "BASE = 1\n", "calc/ops.py": "x = 1\n"})
    copy_tree(base, tree)
    return base, tree


def test_pytest_configuration_goes_back_to_the_base_and_other_edits_stay(trees):
    base, tree = trees
    _write(tree, {
        "pyproject.toml": PYPROJECT.replace("name = 'calc'", "name = 'calc2'"),  # not pytest's part: stays
        "setup.cfg": "[metadata]\nname = calc\n\n[tool:pytest]\naddopts = -p evil\n",
        "tests/conftest.py": "BASE = 2\n", "calc/conftest.py": "HOOK = 1\n", "pytest.ini": "[pytest]\n",
        "tox.ini": "[tox]\nenvlist = py311\n", "calc/ops.py": "x = 2\n",
    })
    assert reset_pytest_config(base, tree) == ["calc/conftest.py", "pytest.ini", "setup.cfg", "tests/conftest.py"]
    assert not (tree / "calc" / "conftest.py").exists() and not (tree / "pytest.ini").exists()
    assert (tree / "setup.cfg").read_text() == "[metadata]\nname = calc\n"
    assert (tree / "tests" / "conftest.py").read_text() == "BASE = 1\n"
    assert "calc2" in (tree / "pyproject.toml").read_text() and (tree / "calc" / "ops.py").read_text() == "x = 2\n"
    assert (tree / "tox.ini").exists()


@pytest.mark.parametrize("pyproject", [
    PYPROJECT.replace("'-q'", "'-p evil'"),
    "[project]\nname = 'calc'\n\n[tool]\npytest.ini_options.addopts = '-p evil'\n",  # the same table, dotted
    "[tool.pytest.ini_options\n",  # unparseable: differs from the base as a file
])
def test_a_changed_pytest_section_in_pyproject_is_reset(trees, pyproject):
    base, tree = trees
    _write(tree, {"pyproject.toml": pyproject})
    assert reset_pytest_config(base, tree) == ["pyproject.toml"]
    assert (tree / "pyproject.toml").read_text() == PYPROJECT


def test_a_reset_never_writes_through_a_symlinked_folder(trees, tmp_path):
    base, tree = trees
    outside = tmp_path / "outside"
    _write(outside, {"conftest.py": "HOST\n"})
    remove = tree / "tests"
    for child in remove.iterdir():
        child.unlink()
    remove.rmdir()
    os.symlink(outside, tree / "tests")
    restore(base, tree, "tests/conftest.py")
    assert (outside / "conftest.py").read_text() == "HOST\n" and sorted(os.listdir(outside)) == ["conftest.py"]
    assert not (tree / "tests").is_symlink() and (tree / "tests" / "conftest.py").read_text() == "BASE = 1\n"
    with pytest.raises(TaskSpecError, match="not inside the repository"):
        real_target(tree, "../outside/conftest.py")


def test_the_grading_pytest_cannot_be_shadowed_and_imports_the_repository_as_python_m_pytest_does(tmp_path):
    _write(tmp_path, {"calc/__init__.py": "VALUE = 3\n",
                      "tests/test_calc.py": "from calc import VALUE\n\ndef test_value():\n    assert VALUE == 3\n",
                      "pytest.py": "print('FAKE PYTEST')\n"})
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([sys.executable, *PYTEST_ARGS, "tests/test_calc.py"], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=120)
    assert "FAKE PYTEST" not in run.stdout and "PASSED tests/test_calc.py::test_value" in run.stdout, run.stdout
