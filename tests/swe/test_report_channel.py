"""The outcome channel: what pytest_boot writes for every kind of outcome, and what the host refuses to believe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from opsgym.swe.evaluate import PYTEST_ARGS
from opsgym.swe.report_channel import read_report

TESTS = '''\
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("boom")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown")

def test_ok():
    pass

def test_bad():
    assert 1 == 2

def test_setup_error(broken):
    pass

def test_teardown_error(bad_teardown):
    pass

@pytest.mark.skip(reason="no")
def test_skipped():
    pass

@pytest.mark.xfail
def test_expected_failure():
    assert False

@pytest.mark.xfail
def test_unexpected_pass():
    pass

@pytest.mark.parametrize("v", ["a - b"])
def test_param(v):
    pass
'''


def _run(tmp_path, extra: str = "") -> bytes:
    (tmp_path / "test_all.py").write_text(TESTS + extra)
    read, write = os.pipe()
    env = {**os.environ, "OPSGYM_REPORT_FD": str(write), "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen([sys.executable, *PYTEST_ARGS, "-p", "no:randomly", "test_all.py"], cwd=tmp_path,
                            env=env, pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        raw = fh.read()
    proc.wait(timeout=60)
    return raw


def test_a_real_run_reports_every_kind_of_outcome(tmp_path):
    report = read_report(_run(tmp_path))
    assert report.trusted and report.exit_code == 1
    assert report.outcomes == {
        "test_all.py::test_ok": "PASSED",
        "test_all.py::test_bad": "FAILED",
        "test_all.py::test_setup_error": "ERROR",
        "test_all.py::test_teardown_error": "ERROR",
        "test_all.py::test_skipped": "SKIPPED",
        "test_all.py::test_expected_failure": "XFAIL",
        "test_all.py::test_unexpected_pass": "XPASS",
        "test_all.py::test_param[a - b]": "PASSED",
    }


def test_a_test_writing_to_the_channel_itself_makes_it_untrusted(tmp_path):
    forged = ("\ndef test_forges():\n    import json, os\n    fd = int(os.environ['OPSGYM_REPORT_FD'])\n"
              "    os.write(fd, (json.dumps({'n': 99, 't': 'result', 'id': 'test_all.py::test_bad', 'when': 'call', "
              "'status': 'PASSED'}) + '\\n').encode())\n")
    report = read_report(_run(tmp_path, forged))
    assert not report.trusted and report.outcomes == {} and report.tampered


def _lines(*items: dict) -> bytes:
    return b"".join(json.dumps({"n": n, **item}).encode() + b"\n" for n, item in enumerate(items, 1))


COLLECTED = {"t": "collected", "ids": ["t.py::a"]}
PASSED = {"t": "result", "id": "t.py::a", "when": "call", "status": "PASSED"}
END = {"t": "end", "exit": 0, "tampered": []}


def test_only_a_whole_numbered_channel_ending_in_an_untampered_end_is_believed():
    assert read_report(_lines(COLLECTED, PASSED, END)).outcomes == {"t.py::a": "PASSED"}
    cases = {
        "no end line (os._exit, crash, timeout)": _lines(COLLECTED, PASSED),
        "a phase reported twice": _lines(COLLECTED, PASSED, PASSED, END),
        "a test that was not collected": _lines(COLLECTED, {**PASSED, "id": "t.py::b"}, END),
        "numbering broken": _lines(COLLECTED, PASSED) + json.dumps({"n": 7, **END}).encode(),
        "a line after the end": _lines(COLLECTED, END, PASSED),
        "the runner saw tampering": _lines(COLLECTED, PASSED, {**END, "tampered": ["hook replaced"]}),
        "printed text": b"PASSED t.py::a\n",
    }
    for why, raw in cases.items():
        report = read_report(raw)
        assert report.outcomes == {} and not report.trusted, why
    assert read_report(None).complete is False
