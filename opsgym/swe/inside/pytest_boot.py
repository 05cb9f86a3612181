"""Start pytest so the tree under test can neither stand in for it nor forge its outcomes: ``python -c <this source>
PYTEST_ARGS...``. Stdlib, pytest and pluggy only.

Stand-ins: ``python -m pytest`` puts the working directory first on ``sys.path`` before importing pytest, so a
``pytest.py`` (or ``pytest/``, or a module named like an installed pytest plugin) in the repository would be imported
instead of the real one. Here the directory is taken off the path while pytest and its plugins load, and put first
again (as ``-m`` would have it) before any conftest or test module is imported.

Outcomes: when descriptor ``$OPSGYM_REPORT_FD`` is open (the sandbox opens it for ``run_tests`` and grading alike),
each test's outcome goes there as a numbered JSON line — the collected ids first, one line per test phase, and after
pytest returns an ``end`` line with the exit status and whatever was found tampered with — never through stdout,
which the code under test can print anything to. The machinery those outcomes come from (``TestReport``, the runner,
pluggy's hook calls, this plugin) is noted before any code of the tree is imported and checked at the end of the
session, as is every hook implementation that appeared since: one that is not in a conftest or test file, or not
installed, is named in the ``end`` line. Code under test shares this process, so this is a tripwire rather than a
wall; the host also checks the numbering and the ``end`` line (:mod:`opsgym.swe.report_channel`), and the patch is
checked statically (:mod:`opsgym.swe.tampering`).
"""

import sys

sys.path[:] = [p for p in sys.path if p not in ("", ".")]  # `-c` puts the working directory first

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

_WATCHED = ("_pytest.reports:TestReport.from_item_and_call", "_pytest.reports:TestReport.__init__",
            "_pytest.reports:BaseReport.passed", "_pytest.reports:BaseReport.failed",
            "_pytest.reports:BaseReport.skipped", "_pytest.runner:call_and_report", "_pytest.runner:runtestprotocol",
            "_pytest.runner:call_runtest_hook", "_pytest.runner:pytest_runtest_makereport",
            "_pytest.runner:pytest_runtest_protocol", "_pytest.runner:CallInfo.from_call",
            "_pytest.python:pytest_pyfunc_call", "_pytest.python:Function.runtest",
            "_pytest.skipping:pytest_runtest_makereport", "pluggy._callers:_multicall",
            "pluggy._hooks:HookCaller.__call__", "pluggy._hooks:_HookCaller.__call__",
            "pluggy._manager:PluginManager._hookexec", "pluggy._hooks:HookImpl.__init__", "os:write")
_TEST_FILE = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*\.py$|_test\.py$|(^|/)conftest\.py$")


def _resolve(spec):
    """``(owner, attribute)`` for ``module:Owner.attr`` (None where this pytest or pluggy version has no such)."""
    module, _, path = spec.partition(":")
    try:
        owner = importlib.import_module(module)
        *outer, name = path.split(".")
        for part in outer:
            owner = getattr(owner, part)
    except (ImportError, AttributeError):
        return None
    return owner, name


_GUARDED = [found for found in map(_resolve, _WATCHED) if found is not None]


def _hook_impls(manager):
    """``(hook name, implementation)`` of every hook of a plugin manager (whatever pluggy calls its classes)."""
    for name, caller in vars(manager.hook).items():
        impls = getattr(caller, "get_hookimpls", None)
        if callable(impls):
            yield from ((name, impl) for impl in impls())


def _code(value):
    inner = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
    return getattr(inner, "__code__", None), getattr(inner, "__defaults__", None)


def _state():
    """Each guarded attribute's current object and code (a class's own ``__dict__`` entry, so the classmethod)."""
    found = []
    for owner, name in _GUARDED:
        value = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        found.append((value, *_code(value)))
    return found


def _open_fd():
    try:
        fd = int(os.environ.get("OPSGYM_REPORT_FD", ""))
        os.fstat(fd)
        os.set_inheritable(fd, False)  # the tests' own subprocesses get no copy
    except (ValueError, OSError):
        return -1
    return fd


def _status(report):
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        return {"passed": "XPASS" if xfail else "PASSED", "skipped": "XFAIL" if xfail else "SKIPPED"}.get(
            report.outcome, "FAILED")
    if report.outcome == "failed":
        return "ERROR"
    return ("XFAIL" if xfail else "SKIPPED") if report.outcome == "skipped" else None


class _Channel:
    """Writes the outcome lines and keeps the evidence (see the module docstring)."""

    def __init__(self, fd, write=os.write, dumps=json.dumps):
        self.fd, self.n, self.tampered = fd, 0, []
        self.guarded = _state()
        self.fd_id = self._fd_identity()
        self.hooks = None
        self.checked = False
        self._emit_with = (write, dumps)
        self.own = [(f, f.__code__) for f in (type(self).__dict__[k] for k in ("emit", "finish", "check_hooks"))]

    def _fd_identity(self):
        st = os.fstat(self.fd)
        return st.st_dev, st.st_ino

    def emit(self, **fields):
        write, dumps = self._emit_with
        self.n += 1
        write(self.fd, (dumps({"n": self.n, **fields}) + "\n").encode())

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        self.hooks = {(impl.function, getattr(impl.function, "__code__", None))
                      for _, impl in _hook_impls(session.config.pluginmanager)}

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_finish(self, session):
        self.emit(t="collected", ids=[item.nodeid for item in session.items])

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report):
        status = _status(report)
        if status is not None:
            self.emit(t="result", id=report.nodeid, when=report.when, status=status)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        self.check_hooks(session.config.pluginmanager)

    def check_hooks(self, manager):
        """Hook implementations that appeared during the session must come from a conftest, a test file, or an
        installed package, and those there at its start must be unchanged."""
        self.checked = True
        cwd = os.getcwd() + os.sep
        for hook, impl in _hook_impls(manager):
            code = getattr(impl.function, "__code__", None)
            if self.hooks is None or (impl.function, code) in self.hooks:
                continue
            where = getattr(code, "co_filename", "")
            if where.startswith(cwd) and not _TEST_FILE.search(where[len(cwd):]):
                self.tampered.append(f"hook {hook} implemented in {where[len(cwd):]}")
            elif not where.startswith("/") or not os.path.isfile(where):
                self.tampered.append(f"hook {hook} implemented by code from {where or 'nowhere'}")

    def finish(self, code):
        if _state() != self.guarded:
            self.tampered.append("pytest's reporting machinery was replaced during the run")
        shadowed = {"emit", "finish", "check_hooks"} & set(vars(self))
        if [(f, f.__code__) for f, _ in self.own] != self.own or shadowed or not self.checked:
            self.tampered.append("the outcome channel was interfered with")
        try:
            if self._fd_identity() != self.fd_id:
                self.tampered.append("the outcome descriptor was replaced")
        except OSError:
            self.tampered.append("the outcome descriptor was closed")
            return
        self.emit(t="end", exit=int(code), tampered=self.tampered[:20])


class _RepositoryFirstOnPath:
    @pytest.hookimpl(tryfirst=True)
    def pytest_load_initial_conftests(self):
        sys.path.insert(0, os.getcwd())


def _main(argv, main=pytest.main, finish=_Channel.finish):
    fd = _open_fd()
    channel = _Channel(fd) if fd >= 0 else None
    code = main(argv, plugins=[_RepositoryFirstOnPath(), *([channel] if channel else [])])
    if channel is not None:
        finish(channel, code)
    return code


sys.exit(_main(sys.argv[1:]))
