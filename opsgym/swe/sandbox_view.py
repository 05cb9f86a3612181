"""What a sandboxed command can see: the system, the interpreter and its standard library, the task's test
dependencies, the workspace — and nothing else of the host.

Binding the interpreter's virtual environment whole would show everything installed in it, and an editable or wheel
install of opsgym puts the task catalog there (``site-packages/opsgym/envs/<task>/gold.patch``). So every
``site-packages`` folder of the interpreter (its venv's and its base installation's) is covered by an empty tmpfs, and
only the files of the distributions the tests need are bound back into it, read-only: pytest and what it requires,
plus the task's own ``test_dependencies``. opsgym itself is never one of them, and ``.pth`` files are never bound, so
an editable install's path into a checkout is not followed. Which files those are is asked of the interpreter itself
(``importlib.metadata``), once per interpreter and package list.

The sandbox's root is a fresh tmpfs holding read-only binds of ``/usr`` (and the ``/bin``, ``/lib*`` links),
``/etc``, that view of the interpreter, the sandbox's own site folder (``sitecustomize``) and events folder; the
workspace is bound read-write at ``/workspace`` and ``/tmp`` is a size-limited tmpfs.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PythonView", "bwrap_command", "python_view"]

SITE = "/run/opsgym-site"
EVENTS_DIR = "/run/opsgym"

_RESOLVE = r"""
import json, os, re, sys, sysconfig
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    Requirement = None

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

want, seen, entries, missing = list(sys.argv[1:]), set(), set(), []
while want:
    name = norm(want.pop())
    if name in seen or name == "opsgym":
        continue
    seen.add(name)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        missing.append(name)
        continue
    base = str(dist.locate_file(""))
    for f in dist.files or []:
        top = f.parts[0] if f.parts else ""
        if top and top not in ("..", "__pycache__") and not top.endswith(".pth"):
            entries.add(os.path.join(base, top))
    for req in dist.requires or []:
        if Requirement is not None:
            parsed = Requirement(req)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                want.append(parsed.name)
        elif ";" not in req:
            want.append(re.match(r"[A-Za-z0-9_.-]+", req).group(0))
prefixes = sorted({sys.prefix, sys.base_prefix})
sites = set()
for p in prefixes:
    paths = sysconfig.get_paths(vars={"base": p, "platbase": p, "installed_base": p, "installed_platbase": p})
    sites |= {paths["purelib"], paths["platlib"]}
try:
    import site
    sites |= set(site.getsitepackages())
except (ImportError, AttributeError):
    pass
print(json.dumps({"prefixes": prefixes, "sites": sorted(sites), "entries": sorted(entries), "missing": missing}))
"""


@dataclass(frozen=True)
class PythonView:
    """The interpreter as the sandbox sees it.

    Attributes:
        dirs: the interpreter's installation and venv, bound read-only.
        sites: their ``site-packages`` folders, each covered by an empty tmpfs.
        entries: the needed distributions' top-level files and folders, bound back read-only at their own paths.
        missing: requested distributions the interpreter does not have (the tests will fail to import them).
    """

    dirs: tuple[str, ...]
    sites: tuple[str, ...]
    entries: tuple[str, ...]
    missing: tuple[str, ...]


@functools.cache
def python_view(python: str, packages: tuple[str, ...]) -> PythonView:
    """The view of ``python`` holding only ``packages`` and what they require, asked of the interpreter once."""
    proc = subprocess.run([python, "-I", "-c", _RESOLVE, *packages], capture_output=True, text=True, timeout=60,
                          check=True)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    dirs = {p for p in found["prefixes"]} | {os.path.realpath(p) for p in found["prefixes"]}
    dirs |= {os.path.dirname(os.path.dirname(p)) for p in (os.path.abspath(python), os.path.realpath(python))}
    dirs = {d for d in dirs if not d.startswith(("/usr/", "/etc/")) and d not in ("/usr", "/", "")}
    sites = {s for s in found["sites"] if os.path.isdir(s)}
    sites |= {os.path.realpath(s) for s in sites}
    return PythonView(tuple(sorted(dirs)), tuple(sorted(sites)), tuple(found["entries"]), tuple(found["missing"]))


def _parents(dest: str, made: set[str]) -> list[str]:
    """``--dir`` arguments for the folders above ``dest`` that the sandbox's root does not have yet."""
    args = []
    for parent in sorted((str(p) for p in Path(dest).parents), key=len):
        if parent not in made:
            args += ["--perms", "0755", "--dir", parent]
            made.add(parent)
    return args


def bwrap_command(view: PythonView, *, as_root: bool, tmp_mb: int, site: Path, events: Path, workdir: Path
                  ) -> list[str]:
    """bubblewrap's arguments up to ``--`` (namespaces, capabilities, and the filesystem described above)."""
    cmd = ["bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
           "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox", "--cap-drop", "ALL"]
    if as_root:
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        cmd += ["--unshare-user", "--uid", "1000", "--gid", "1000", "--disable-userns"]
    made: set[str] = {"/"}
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
        made.add(top)
    cmd += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--dev", "/dev", "--proc", "/proc",
            "--size", str(tmp_mb << 20), "--perms", "1777", "--tmpfs", "/tmp"]
    made |= {"/usr", "/etc", "/dev", "/proc", "/tmp"}
    for d in sorted(view.dirs, key=lambda p: p.count("/")):
        cmd += [*_parents(d, made), "--ro-bind", d, d]
        made.add(d)
    for s in view.sites:  # after the prefixes they lie in: the tmpfs covers what the bind above showed
        cmd += [*_parents(s, made), "--perms", "0755", "--tmpfs", s]
        made.add(s)
    for entry in view.entries:
        cmd += ["--ro-bind", entry, entry]
    own = ((site, SITE, "--ro-bind"), (events, EVENTS_DIR, "--bind"), (workdir, "/workspace", "--bind"))
    for src, dest, how in own:
        cmd += [*_parents(dest, made), how, str(src), dest]
        made.add(dest)
    return [*cmd, "--chdir", "/workspace", "--"]
