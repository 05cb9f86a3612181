"""Patches: parsing, applying, writing diffs git accepts, and the gold patch as the oracle's agent actions."""

from __future__ import annotations

import shutil
import string

import pytest

from opsgym.errors import TaskSpecError
from opsgym.swe.patches import apply_file_patch, git_apply, oracle_actions, parse_patch, unified_diff

from .conftest import FIXTURES

GIT_STYLE = (FIXTURES / "tiny" / "gold.patch").read_text()
DIFF_RUN = """\
diff -ruN a/pkg/new.py b/pkg/new.py
--- a/pkg/new.py
+++ b/pkg/new.py
@@ -0,0 +1,2 @@
+VALUE = "$HOME costs $$"
+x = 1
\\ No newline at end of file
"""


def test_parses_git_and_diff_ruN_patches():
    (tiny,) = parse_patch(GIT_STYLE)
    assert (tiny.old_path, tiny.new_path, len(tiny.hunks)) == ("calc/ops.py", "calc/ops.py", 1)
    assert "return high - 1\n" in tiny.hunks[0].old_text and "return high\n" in tiny.hunks[0].new_text
    (new,) = parse_patch(DIFF_RUN)
    assert new.hunks[0].new_text == 'VALUE = "$HOME costs $$"\nx = 1'


def test_rejects_a_hunk_whose_counts_do_not_add_up():
    with pytest.raises(ValueError, match="line counts"):
        parse_patch(GIT_STYLE.replace("@@ -9,8 +9,8 @@", "@@ -9,9 +9,8 @@"))


def test_applies_hunks_even_when_the_file_moved_down():
    base = (FIXTURES / "tiny" / "repo" / "calc" / "ops.py").read_text()
    (tiny,) = parse_patch(GIT_STYLE)
    shifted = "# one\n# two\n" + base
    assert apply_file_patch(shifted, tiny) == "# one\n# two\n" + apply_file_patch(base, tiny)
    with pytest.raises(ValueError, match="does not apply"):
        apply_file_patch(base.replace("return high - 1", "return high - 2"), tiny)


def test_written_diffs_apply_with_git(tmp_path):
    (tmp_path / "a.txt").write_text("one\ntwo\nthree")
    (tmp_path / "gone.txt").write_text("bye\n")
    patch = unified_diff([("a.txt", "one\ntwo\nthree", "one\n2\nthree\n"), ("gone.txt", "bye\n", None),
                          ("sub/new.txt", None, "hello\n"), ("same.txt", "x\n", "x\n")])
    assert "same.txt" not in patch and "\\ No newline at end of file" in patch
    proc = git_apply(tmp_path, patch)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.txt").read_text() == "one\n2\nthree\n"
    assert not (tmp_path / "gone.txt").exists() and (tmp_path / "sub" / "new.txt").read_text() == "hello\n"


def test_oracle_actions_are_edit_blocks_then_submit_and_survive_template_rendering(tmp_path):
    base = FIXTURES / "tiny" / "repo"
    actions = oracle_actions(GIT_STYLE + DIFF_RUN, lambda rel: (base / rel).read_text()
                             if (base / rel).is_file() else None)
    assert [a.split(None, 1)[0] for a in actions] == ["edit", "create", "submit"]
    assert "<<<<<<< SEARCH\n" in actions[0] and actions[0].endswith(">>>>>>> REPLACE")
    rendered = string.Template(actions[1]).safe_substitute({})
    assert rendered == 'create pkg/new.py\nVALUE = "$HOME costs $$"\nx = 1'


def test_oracle_rewrites_the_file_when_a_hunk_is_not_unique(tmp_path):
    base = "x = 1\n" * 4
    patch = "--- a/m.py\n+++ b/m.py\n@@ -2,1 +2,1 @@\n-x = 1\n+x = 2\n"
    (edit, submit) = oracle_actions(patch, lambda rel: base)
    assert edit == "edit m.py 1:4\nx = 1\nx = 2\nx = 1\nx = 1\n" and submit == "submit"


def test_oracle_reports_a_gold_patch_that_does_not_apply():
    with pytest.raises(TaskSpecError, match="does not apply"):
        oracle_actions(GIT_STYLE, lambda rel: "nothing like it\n")


def test_git_apply_reports_failure_without_touching_the_tree(tmp_path):
    shutil.copytree(FIXTURES / "tiny" / "repo", tmp_path / "r")
    assert git_apply(tmp_path / "r", GIT_STYLE).returncode == 0
    assert git_apply(tmp_path / "r", GIT_STYLE).returncode != 0  # already applied
