"""The agent's file tools (``open``, ``search``, ``find``, ``edit``, ``create``): host-side, inside the workspace.

These only read and write files, so they need no sandbox; what they must never do is leave the workspace. Every
path is resolved with symlinks followed and refused unless it stays under the workspace (a link the agent made with
``run ln -s /etc x`` cannot be opened or written through), and only regular files are read or written (a FIFO the
agent made would block the host forever), and only up to 2 MB of a file that is not sparse (a sparse file reads as its
whole size of zeros); a line is shown up to 2000 characters. No sandboxed process outlives its command, so
nothing can swap a path between these checks and the use. Files are read and written with ``surrogateescape`` so
bytes that are not UTF-8 survive an edit elsewhere in the file.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsgym.swe.bounded import read_bounded
from opsgym.swe.workspace import iter_files

__all__ = ["TEST_PATH", "ToolError", "ToolReply", "create_file", "edit_file", "find_files", "is_test_path",
           "open_path", "resolve_path", "search_text", "split_action"]

WINDOW = 100
MAX_HITS = 100
READ_LIMIT = 2_000_000
LINE_LIMIT = 2000
TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_test\.py$|(^|/)conftest\.py$")
SKIP_MARK = re.compile(r"pytest\.mark\.(skip|skipif|xfail)\b|unittest\.skip|pytest\.(skip|xfail)\(|@skip\b")
_BLOCK = re.compile(r"^<<<<<<< SEARCH\n(.*?)^=======\n(.*?)^>>>>>>> REPLACE$", re.S | re.M)
_RANGE = re.compile(r"^(\d+):(\d+)$")


class ToolError(Exception):
    """A bad argument: the message (with the usage) becomes the observation."""


@dataclass
class ToolReply:
    """What a tool did: the text the agent sees, and facts for penalties (``path``, ``test_file``, ``skip_marker``)."""

    observation: str
    detail: dict[str, Any] = field(default_factory=dict)


def is_test_path(path: str) -> bool:
    return bool(TEST_PATH.search(path))


def split_action(action: str) -> tuple[list[str], str]:
    """The first line's words (shell-quoted) and the body after it."""
    head, _, body = action.partition("\n")
    try:
        return shlex.split(head), body
    except ValueError as exc:
        raise ToolError(f"cannot parse {head[:80]!r}: {exc}") from None


def resolve_path(root: Path, rel: str, *, must_exist: bool = True) -> tuple[Path, str]:
    """The real path for ``rel`` (relative, or under ``/workspace``) and its workspace-relative name.

    Raises:
        ToolError: the path leaves the workspace (``..``, an absolute path elsewhere, a symlink out) or is missing.
    """
    if rel in ("/workspace", "/workspace/"):
        rel = "."
    elif rel.startswith("/workspace/"):
        rel = rel[len("/workspace/"):]
    if os.path.isabs(rel) or "\0" in rel:
        raise ToolError(f"{rel!r}: paths are relative to the repository root (/workspace); no other files exist here")
    real_root = os.path.realpath(root)
    candidate = os.path.realpath(os.path.join(real_root, rel))
    if candidate != real_root and not candidate.startswith(real_root + os.sep):
        raise ToolError(f"{rel!r} is outside the repository; only files under /workspace can be used")
    if must_exist and not os.path.lexists(candidate):
        raise ToolError(f"{rel!r} does not exist (try `find NAME`)")
    return Path(candidate), os.path.relpath(candidate, real_root)


def _read(path: Path) -> str:
    """A file's text, if it is a regular, non-sparse file of at most 2 MB (:func:`opsgym.swe.bounded.read_bounded`).

    Raises:
        ToolError: it is larger, sparse, or not a regular file.
    """
    data = read_bounded(path, READ_LIMIT)
    if data is None:
        raise ToolError(f"{path.name!r} is over {READ_LIMIT // 1_000_000} MB, sparse, or not a regular file; look at "
                        "part of it with `run head -c 2000 FILE` or `run sed -n 1,50p FILE`")
    return data.decode("utf-8", errors="surrogateescape")


def _window(name: str, text: str, center: int, around: int = WINDOW // 2) -> str:
    lines = text.splitlines()
    start = max(0, min(center - 1 - around, len(lines) - 2 * around))
    end = min(len(lines), start + 2 * around)
    out = [f"[File: {name} ({len(lines)} lines total)]"]
    if start:
        out.append(f"({start} more lines above)")
    out += [f"{n}:{line[:LINE_LIMIT]}" + (" [line cut]" if len(line) > LINE_LIMIT else "")
            for n, line in enumerate(lines[start:end], start + 1)]
    if end < len(lines):
        out.append(f"({len(lines) - end} more lines below)")
    return "\n".join(out)


def open_path(root: Path, args: list[str]) -> ToolReply:
    if not 1 <= len(args) <= 2 or (len(args) == 2 and not args[1].isdigit()):
        raise ToolError("usage: open PATH [LINE]")
    path, name = resolve_path(root, args[0])
    if path.is_dir():
        entries = sorted(e.name + ("/" if e.is_dir() else "") for e in path.iterdir() if e.name != "__pycache__")
        return ToolReply(f"[Directory: {name}]\n" + "\n".join(entries), {"path": name})
    if not path.is_file():
        raise ToolError(f"{name!r} is not a regular file or a directory (a FIFO, socket or device); it cannot be "
                        "opened here, look at it with `run ls -l`")
    line = int(args[1]) if len(args) == 2 else 1
    return ToolReply(_window(name, _read(path), line), {"path": name})


def _text_files(root: Path, start: Path) -> list[tuple[str, Path]]:
    if start.is_file():
        return [(os.path.relpath(start, os.path.realpath(root)), start)]
    return [(os.path.relpath(start / rel, os.path.realpath(root)), start / rel) for rel in iter_files(start)
            if not os.path.islink(start / rel)]


def search_text(root: Path, args: list[str]) -> ToolReply:
    if not 1 <= len(args) <= 2 or not args[0]:
        raise ToolError('usage: search TEXT [PATH]  (quote TEXT if it has spaces: search "def page_count")')
    start, _ = resolve_path(root, args[1] if len(args) == 2 else ".")
    hits: list[str] = []
    total = 0
    for name, path in _text_files(root, start):
        try:
            text = _read(path)
        except (OSError, ToolError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if args[0] in line:
                total += 1
                if len(hits) < MAX_HITS:
                    hits.append(f"{name}:{n}:{line[:300]}")
    if not hits:
        return ToolReply(f"No matches for {args[0]!r}.")
    more = f"\n[{total - len(hits)} more matches not shown; narrow the search]" if total > len(hits) else ""
    return ToolReply(f"{total} matches for {args[0]!r}:\n" + "\n".join(hits) + more)


def find_files(root: Path, args: list[str]) -> ToolReply:
    if len(args) != 1:
        raise ToolError("usage: find NAME  (a file name, part of one, or a glob such as *.py)")
    pattern = args[0]
    globbing = any(c in pattern for c in "*?[")
    names = [rel for rel in iter_files(root) if (fnmatch.fnmatch(os.path.basename(rel), pattern) if globbing
                                                 else pattern in os.path.basename(rel))]
    if not names:
        return ToolReply(f"No files match {pattern!r}.")
    shown = names[:200]
    return ToolReply("\n".join(shown) + (f"\n[{len(names) - 200} more]" if len(names) > 200 else ""))


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _syntax_note(name: str, text: str) -> str:
    if not name.endswith(".py"):
        return ""
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return f"\nWarning: {name} now has a syntax error at line {exc.lineno}: {exc.msg}. Fix it with another edit."
    except (ValueError, RecursionError, MemoryError):
        return f"\nWarning: {name} could not be parsed."
    return ""


def _facts(name: str, old: str, new: str, existed: bool) -> dict[str, Any]:
    added = "".join(line for line in new.splitlines(keepends=True) if line not in set(old.splitlines(keepends=True)))
    facts: dict[str, Any] = {"path": name}
    if existed and is_test_path(name):
        facts["test_file"] = True
    if SKIP_MARK.search(added):
        facts["skip_marker"] = True
    return facts


def edit_file(root: Path, args: list[str], body: str) -> ToolReply:
    """``edit PATH START:END`` + replacement lines, or ``edit PATH`` + one or more SEARCH/REPLACE blocks."""
    usage = ("usage: edit PATH START:END, then the new lines (replacing lines START..END; END=START-1 inserts), or\n"
             "edit PATH, then blocks of\n<<<<<<< SEARCH\nexact old lines\n=======\nnew lines\n>>>>>>> REPLACE")
    if len(args) not in (1, 2):
        raise ToolError(usage)
    path, name = resolve_path(root, args[0])
    if not path.is_file():
        raise ToolError(f"{name!r} is not a file. {usage}")
    old = _read(path)
    if len(args) == 2:
        match = _RANGE.match(args[1])
        lines = old.splitlines(keepends=True)
        if not match:
            raise ToolError(usage)
        start, end = int(match.group(1)), int(match.group(2))
        if not (1 <= start <= end + 1 and end <= len(lines)):
            raise ToolError(f"line range {start}:{end} is outside {name} (1..{len(lines)}). {usage}")
        new = "".join(lines[: start - 1]) + _with_newline(body) + "".join(lines[end:])
        focus = start
    else:
        blocks = _BLOCK.findall(body)
        if not blocks:
            raise ToolError(f"no SEARCH/REPLACE block found. {usage}")
        new, focus = old, 1
        for search, replace in blocks:
            count = new.count(search) if search else 0
            if count != 1:
                why = "was not found (check indentation and blank lines)" if count == 0 else f"occurs {count} times"
                raise ToolError(f"edit not applied: the SEARCH text {why} in {name}; it must match exactly once.")
            focus = new[: new.index(search)].count("\n") + 1
            new = new.replace(search, replace, 1)
    path.write_text(new, encoding="utf-8", errors="surrogateescape")
    shown = _window(name, new, focus, around=8)
    return ToolReply(f"Edited {name}.\n{shown}{_syntax_note(name, new)}", _facts(name, old, new, True))


def create_file(root: Path, args: list[str], body: str, owner: tuple[int, int] | None = None) -> ToolReply:
    """Create a new file (and its folders), owned by the sandbox's user so the agent's commands can change it too."""
    if len(args) != 1:
        raise ToolError("usage: create PATH, then the file's content on the following lines")
    path, name = resolve_path(root, args[0], must_exist=False)
    if os.path.lexists(path):
        raise ToolError(f"{name!r} already exists; change it with `edit`")
    parent, _ = resolve_path(root, os.path.dirname(name) or ".", must_exist=False)
    made = [p for p in (parent, *parent.parents) if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    content = _with_newline(body)
    path.write_text(content, encoding="utf-8", errors="surrogateescape")
    if owner:
        for made_path in [*made, path]:
            os.chown(made_path, *owner)
    lines = content.count("\n")
    return ToolReply(f"Created {name} ({lines} lines).{_syntax_note(name, content)}", _facts(name, "", content, False))
