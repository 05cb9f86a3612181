"""The agent's file tools: what they show, how they edit, and that no path leads out of the workspace."""

from __future__ import annotations

import os
import shutil

import pytest

from opsgym.swe.tools import (
    ToolError,
    create_file,
    edit_file,
    find_files,
    open_path,
    resolve_path,
    search_text,
    split_action,
)

from .conftest import FIXTURES


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "tiny" / "repo", root)
    return root


def test_open_shows_numbered_lines_and_lists_directories(repo):
    reply = open_path(repo, ["calc/ops.py", "12"])
    assert reply.observation.startswith("[File: calc/ops.py (18 lines total)]")
    assert "13:        return high - 1" in reply.observation
    assert open_path(repo, ["/workspace"]).observation.splitlines()[1:] == ["calc/", "conftest.py", "tests/"]


def test_search_and_find(repo):
    hits = search_text(repo, ["return high"]).observation
    assert hits == "1 matches for 'return high':\ncalc/ops.py:13:        return high - 1"
    assert search_text(repo, ["nowhere to be found", "tests"]).observation.startswith("No matches")
    assert find_files(repo, ["*.py"]).observation.split() == ["conftest.py", "calc/__init__.py", "calc/ops.py",
                                                              "tests/test_ops.py"]
    assert find_files(repo, ["ops"]).observation.split() == ["calc/ops.py", "tests/test_ops.py"]


def test_edit_by_line_range_and_by_search_replace(repo):
    edit_file(repo, ["calc/ops.py", "12:13"], "    if value > high:\n        return high")
    assert "    if value > high:\n        return high\n    return value\n" in (repo / "calc/ops.py").read_text()
    body = ("<<<<<<< SEARCH\ndef add(a: int, b: int) -> int:\n=======\n"
            "def add(a: int, b: int = 0) -> int:\n>>>>>>> REPLACE")
    reply = edit_file(repo, ["calc/ops.py"], body)
    assert "def add(a: int, b: int = 0) -> int:" in (repo / "calc/ops.py").read_text()
    assert reply.detail == {"path": "calc/ops.py"}


def test_edit_refuses_ambiguous_or_missing_search_text_and_changes_nothing(repo):
    before = (repo / "calc/ops.py").read_text()
    for search, why in (("", "occurs"), ("not in the file", "was not found")):
        with pytest.raises(ToolError, match=why):
            edit_file(repo, ["calc/ops.py"], f"<<<<<<< SEARCH\n{search}\n=======\nx\n>>>>>>> REPLACE")
    with pytest.raises(ToolError, match=r"outside calc/ops\.py"):
        edit_file(repo, ["calc/ops.py", "18:40"], "x")
    with pytest.raises(ToolError, match="usage: edit PATH START:END"):
        edit_file(repo, ["calc/ops.py", "twelve"], "x")
    assert (repo / "calc/ops.py").read_text() == before


def test_edit_reports_syntax_errors_and_test_file_and_skip_facts(repo):
    broken = edit_file(repo, ["calc/ops.py", "5:5"], "    return (a +")
    assert "syntax error at line" in broken.observation
    skip = edit_file(repo, ["tests/test_ops.py", "4:4"], "import pytest\n@pytest.mark.skip\ndef test_add():")
    assert skip.detail == {"path": "tests/test_ops.py", "test_file": True, "skip_marker": True}


def test_create_makes_folders_and_refuses_to_overwrite(repo):
    reply = create_file(repo, ["scripts/repro.py"], "print('hi')")
    assert (repo / "scripts/repro.py").read_text() == "print('hi')\n"
    assert reply.observation == "Created scripts/repro.py (1 lines)." and "test_file" not in reply.detail
    with pytest.raises(ToolError, match="already exists"):
        create_file(repo, ["calc/ops.py"], "x")


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "calc/../../x", "escape/passwd", "/workspace/../x"])
def test_no_path_leaves_the_workspace(repo, path):
    os.symlink("/etc", repo / "escape")
    with pytest.raises(ToolError, match=r"outside the repository|relative to the repository"):
        resolve_path(repo, path, must_exist=False)


def test_symlink_out_cannot_be_opened_or_written_through(repo, tmp_path):
    (tmp_path / "secret.txt").write_text("gold patch")
    os.symlink(tmp_path / "secret.txt", repo / "link.txt")
    with pytest.raises(ToolError, match="outside"):
        open_path(repo, ["link.txt"])
    with pytest.raises(ToolError, match="outside"):
        edit_file(repo, ["link.txt", "1:1"], "pwned")
    assert (tmp_path / "secret.txt").read_text() == "gold patch"
    assert "gold patch" not in search_text(repo, ["gold"]).observation


def test_bad_arguments_answer_with_usage(repo):
    for call, args in ((open_path, []), (open_path, ["a", "b"]), (search_text, []), (find_files, ["a", "b"])):
        with pytest.raises(ToolError, match="usage"):
            call(repo, args)
    with pytest.raises(ToolError, match="cannot parse"):
        split_action('search "unclosed')
