"""The copy of the final tree that grading runs the tests on, prepared so the agent can steer neither the verdict nor
the host.

* No file operation here follows a symlink out of the copy: before a file is written, every folder on its way is
  made a real folder of the copy (a ``tests -> /etc`` link the agent planted is replaced, never written through).
* The test patch's files go back to their base version, then ``test.patch`` is applied (SWE-bench's harness does
  the same with ``git checkout <base> -- files``).
* pytest is configured as the base repository configures it: every ``conftest.py`` and every pytest settings file
  (``pytest.ini``, ``.pytest.ini``, ``pytest.toml``, ``.pytest.toml``, ``tox.ini``'s ``[pytest]``, ``setup.cfg``'s
  ``[tool:pytest]``, ``pyproject.toml``'s ``[tool.pytest…]``) whose pytest part differs from the base's goes back to
  the base version, or is removed where the base has none. A conftest hook that rewrites reports, or ``addopts = -p
  plugin``, cannot reach the graded run; edits elsewhere in ``pyproject.toml`` or ``setup.cfg`` stay.
* pytest itself is started by :data:`PYTEST` (see ``inside/pytest_boot.py``), so no module in the tree stands in
  for it.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
from pathlib import Path

from opsgym.errors import TaskSpecError
from opsgym.swe.patches import git_apply, parse_patch
from opsgym.swe.workspace import iter_files, parents_are_real, remove_tree

__all__ = ["PYTEST", "PYTEST_SETTINGS", "real_target", "reset_pytest_config", "reset_test_patch", "restore"]

PYTEST = ("-c", (Path(__file__).resolve().parent / "inside" / "pytest_boot.py").read_text(encoding="utf-8"))
"""Interpreter arguments that run pytest as ``python -m pytest`` would, minus the tree's power to replace pytest."""

try:
    import tomllib as _toml
except ImportError:  # Python 3.10: pytest's own dependency there; without it a pyproject.toml counts whole
    try:
        import tomli as _toml  # type: ignore[no-redef]
    except ImportError:
        _toml = None  # type: ignore[assignment]

PYTEST_SETTINGS = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini",
                             "setup.cfg", "pyproject.toml"})
"""File names whose content (or pytest section) configures a pytest run."""


def real_target(tree: Path, rel: str) -> Path:
    """``tree / rel`` after making every folder on its way a real folder of ``tree`` (links and files there go).

    Raises:
        TaskSpecError: ``rel`` is absolute or climbs out with ``..`` (a malformed test patch).
    """
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts:
        raise TaskSpecError(f"test patch path {rel!r} is not inside the repository; fix the task's test.patch")
    folder = tree
    for name in parts[:-1]:
        folder = folder / name
        try:
            if stat.S_ISDIR(os.lstat(folder).st_mode):
                continue
        except FileNotFoundError:
            pass
        remove_tree(folder)
        folder.mkdir()
    return tree / rel


def restore(base: Path, tree: Path, rel: str) -> None:
    """Make ``tree/rel`` what ``base/rel`` is: the same file, or nothing."""
    target = real_target(tree, rel)
    remove_tree(target)
    original = base / rel
    if os.path.lexists(original) and not original.is_dir():
        shutil.copy2(original, target, follow_symlinks=False)


def reset_test_patch(base: Path, tree: Path, test_patch: str) -> str:
    """Put the test patch's files back to base, then apply it; return git's complaint, or '' on success."""
    for fp in parse_patch(test_patch):
        for rel in {p for p in (fp.old_path, fp.new_path) if p is not None}:
            restore(base, tree, rel)
    proc = git_apply(tree, test_patch)
    return "" if proc.returncode == 0 else (proc.stderr.strip() or "git apply failed")


def _settings(root: Path, rel: str) -> object:
    """What of ``root/rel`` pytest reads: the file, or its pytest section (None: no file or no section)."""
    path = root / rel
    if not parents_are_real(root, rel) or not os.path.lexists(path):
        return None
    if path.is_symlink() or not path.is_file():
        return ("not a regular file", os.readlink(path) if path.is_symlink() else "")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return ("unreadable", str(exc))
    name = path.name
    try:
        if name == "pyproject.toml" and _toml is not None:
            tool = _toml.loads(raw.decode("utf-8")).get("tool")
            return tool.get("pytest") if isinstance(tool, dict) else None
        if name in ("setup.cfg", "tox.ini"):
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            parser.read_string(raw.decode("utf-8"))
            section = "tool:pytest" if name == "setup.cfg" else "pytest"
            return dict(parser[section]) if parser.has_section(section) else None
    except (UnicodeDecodeError, ValueError, RecursionError, configparser.Error):  # TOMLDecodeError: a ValueError
        return raw
    return raw


def reset_pytest_config(base: Path, tree: Path) -> list[str]:
    """Give ``tree`` the base's pytest configuration (see the module docstring); return the files put back."""
    names = {rel for root in (base, tree) for rel in iter_files(root) if os.path.basename(rel) in PYTEST_SETTINGS}
    reset = sorted(rel for rel in names if _settings(base, rel) != _settings(tree, rel))
    for rel in reset:
        restore(base, tree, rel)
    return reset
