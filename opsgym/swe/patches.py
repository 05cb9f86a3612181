"""Unified diffs: parse them, apply them, write them, and turn a gold patch into the oracle's agent actions.

Grading applies ``test.patch`` with ``git apply`` (the tool SWE-bench uses, so a patch that works there works here).
This module's own parser exists for two reasons: the oracle must solve a task through the *agent's* actions (``edit``
and ``create``), never by applying a patch behind the agent's back, and the ``diff`` action must write a patch that
``git apply`` accepts without a git repository in the workspace.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from opsgym.errors import TaskSpecError

__all__ = ["FilePatch", "Hunk", "apply_file_patch", "git_apply", "oracle_actions", "parse_patch", "unified_diff"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_EOL = "\\ No newline at end of file"


@dataclass
class Hunk:
    """One ``@@`` block: its line numbers and its lines as (tag, text-with-newline) with tag in `` ``, ``-``, ``+``."""

    old_start: int
    new_start: int
    lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def old_text(self) -> str:
        return "".join(text for tag, text in self.lines if tag != "+")

    @property
    def new_text(self) -> str:
        return "".join(text for tag, text in self.lines if tag != "-")


@dataclass
class FilePatch:
    """The changes to one file. ``old_path``/``new_path`` are None for a created/deleted file."""

    old_path: str | None
    new_path: str | None
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


def _strip_prefix(name: str) -> str | None:
    name = name.split("\t", 1)[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def parse_patch(text: str) -> list[FilePatch]:
    """Parse a unified diff (``git diff`` or ``diff -ruN`` style) into per-file patches.

    Raises:
        ValueError: the text has a hunk outside a file header or a hunk whose line counts do not add up.
    """
    files: list[FilePatch] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            files.append(FilePatch(_strip_prefix(line[4:]), _strip_prefix(lines[i + 1][4:])))
            i += 2
            continue
        match = _HUNK.match(line)
        if match:
            if not files:
                raise ValueError(f"line {i + 1}: hunk before any ---/+++ file header")
            old_len = int(match.group(2) or "1") if match.group(2) != "0" else 0
            new_len = int(match.group(4) or "1") if match.group(4) != "0" else 0
            hunk = Hunk(int(match.group(1)), int(match.group(3)))
            i += 1
            seen_old = seen_new = 0
            while i < len(lines) and (seen_old < old_len or seen_new < new_len or lines[i].startswith("\\")):
                body = lines[i]
                if body.startswith("\\"):  # "\ No newline at end of file" applies to the line before
                    tag, prev = hunk.lines[-1]
                    hunk.lines[-1] = (tag, prev.rstrip("\n"))
                elif body[:1] in (" ", "-", "+") or body in ("\n", "\r\n"):
                    tag = body[:1] if body[:1] in (" ", "-", "+") else " "
                    content = body[1:] if body[:1] in (" ", "-", "+") else body
                    hunk.lines.append((tag, content if content.endswith("\n") else content + "\n"))
                    seen_old += tag != "+"
                    seen_new += tag != "-"
                else:
                    break
                i += 1
            if seen_old != old_len or seen_new != new_len:
                raise ValueError(f"hunk at line {hunk.old_start} of {files[-1].path}: line counts do not match")
            files[-1].hunks.append(hunk)
            continue
        i += 1
    return files


def apply_file_patch(original: str, patch: FilePatch) -> str:
    """Apply one file's hunks to its text (exact context; a hunk may have moved, as `patch` allows).

    Raises:
        ValueError: a hunk's context is not in the file.
    """
    lines = original.splitlines(keepends=True)
    offset = 0
    for hunk in patch.hunks:
        old = [t for tag, t in hunk.lines if tag != "+"]
        new = [t for tag, t in hunk.lines if tag != "-"]
        want = max(0, hunk.old_start - 1 + offset) if old else hunk.old_start + offset
        starts = sorted(range(len(lines) - len(old) + 1), key=lambda s: abs(s - want))
        at = next((s for s in starts if lines[s:s + len(old)] == old), None)
        if at is None:
            raise ValueError(f"{patch.path}: hunk @@ -{hunk.old_start} does not apply (context not found)")
        lines[at:at + len(old)] = new
        offset += len(new) - len(old)
    return "".join(lines)


def git_apply(directory: Path, diff_text: str, *, reverse: bool = False) -> subprocess.CompletedProcess[str]:
    """``git apply`` a diff inside ``directory`` (no repository needed; parent repositories are not consulted)."""
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(directory.resolve().parent), "GIT_DIR": os.devnull}
    args = ["git", "apply", "--whitespace=nowarn", *(["--reverse"] if reverse else []), "-"]
    return subprocess.run(args, cwd=directory, input=diff_text, capture_output=True, text=True, env=env,
                          timeout=60, check=False)


def _file_diff(path: str, old: str | None, new: str | None) -> str:
    a = (old or "").splitlines(keepends=True)
    b = (new or "").splitlines(keepends=True)
    header = [f"diff --git a/{path} b/{path}\n"]
    if old is None:
        header.append("new file mode 100644\n")
    elif new is None:
        header.append("deleted file mode 100644\n")
    header.append(f"--- {'/dev/null' if old is None else 'a/' + path}\n")
    header.append(f"+++ {'/dev/null' if new is None else 'b/' + path}\n")
    body: list[str] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        body.append(f"@@ -{i1 + (i2 > i1)},{i2 - i1} +{j1 + (j2 > j1)},{j2 - j1} @@\n")
        for tag, x1, x2, y1, y2 in group:
            chunks = [(" ", a[x1:x2])] if tag == "equal" else [("-", a[x1:x2]), ("+", b[y1:y2])]
            for mark, chunk in chunks:
                for text in chunk:
                    body.append(mark + text if text.endswith("\n") else f"{mark}{text}\n{_NO_EOL}\n")
    return "".join(header + body) if body or old is None or new is None else ""


def unified_diff(changes: list[tuple[str, str | None, str | None]]) -> str:
    """A git-style patch for ``(path, old_text_or_None, new_text_or_None)`` triples (None: file absent)."""
    return "".join(_file_diff(path, old, new) for path, old, new in changes if old != new)


def _edit_block(path: str, old: str, new: str) -> str:
    return f"edit {shlex.quote(path)}\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE"


def oracle_actions(diff_text: str, read_base: Callable[[str], str | None]) -> list[str]:
    """The agent actions that turn the base tree into the patched one, ending with ``submit``.

    Each hunk becomes a search/replace ``edit`` when its old text is unique in the file as edited so far (what a
    careful engineer would type); otherwise the file is rewritten with one line-range edit. New files use ``create``.
    ``$`` is doubled because :meth:`opsgym.env.OpsEnv.oracle_solution` renders actions as ``string.Template``.

    Raises:
        TaskSpecError: the patch does not parse or does not apply to the base tree.
    """
    try:
        files = parse_patch(diff_text)
    except ValueError as exc:
        raise TaskSpecError(f"gold patch does not parse: {exc}") from None
    actions: list[str] = []
    for fp in files:
        if fp.new_path is None:
            actions.append(f"run rm -f -- {shlex.quote(fp.old_path or '')}")
            continue
        base = read_base(fp.old_path) if fp.old_path else None
        if base is None:
            try:
                content = apply_file_patch("", fp)
            except ValueError as exc:
                raise TaskSpecError(f"gold patch: {exc}") from None
            actions.append(f"create {shlex.quote(fp.new_path)}\n{content}")
            continue
        current = base
        blocks: list[str] = []
        for hunk in fp.hunks:
            old, new = hunk.old_text, hunk.new_text
            safe = old.endswith("\n") and new.endswith("\n") and "\n=======\n" not in "\n" + old + new
            if not (safe and old and current.count(old) == 1):
                blocks = []
                break
            current = current.replace(old, new, 1)
            blocks.append(_edit_block(fp.new_path, old, new))
        try:
            final = apply_file_patch(base, fp)
        except ValueError as exc:
            raise TaskSpecError(f"gold patch: {exc}") from None
        if blocks and current == final and fp.old_path == fp.new_path:
            actions.extend(blocks)
        else:
            if fp.old_path != fp.new_path and fp.old_path:
                actions.append(f"run rm -f -- {shlex.quote(fp.old_path)}")
                actions.append(f"create {shlex.quote(fp.new_path)}\n{final}")
            else:
                n = len(base.splitlines())
                actions.append(f"edit {shlex.quote(fp.new_path)} 1:{n}\n{final}")
    actions.append("submit")
    return [a.replace("$", "$$") for a in actions]
