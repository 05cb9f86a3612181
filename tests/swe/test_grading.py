"""Grading: SWE-bench's resolution rules (with skipped = not passed); the outcomes themselves are tested in
test_report_channel.py."""

from __future__ import annotations

import pytest

from opsgym.swe.grading import pytest_files, resolve


@pytest.mark.parametrize(("outcomes", "status", "score"), [
    ({"f1": "PASSED", "f2": "PASSED", "p1": "PASSED"}, "RESOLVED_FULL", 1.0),
    ({"f1": "PASSED", "f2": "XFAIL", "p1": "PASSED"}, "RESOLVED_FULL", 1.0),
    ({"f1": "PASSED", "f2": "FAILED", "p1": "PASSED"}, "RESOLVED_PARTIAL", 0.25),
    ({"f1": "PASSED", "p1": "PASSED"}, "RESOLVED_PARTIAL", 0.25),            # f2 missing from the report
    ({"f1": "PASSED", "f2": "PASSED", "p1": "FAILED"}, "RESOLVED_NO", 0.0),  # broke a passing test
    ({"f1": "FAILED", "f2": "ERROR", "p1": "PASSED"}, "RESOLVED_NO", 0.0),
    ({"f1": "SKIPPED", "f2": "SKIPPED", "p1": "PASSED"}, "RESOLVED_NO", 0.0),  # skipping is not fixing
    ({}, "RESOLVED_NO", 0.0),
])
def test_resolution_follows_swe_bench(outcomes, status, score):
    verdict = resolve(["f1", "f2"], ["p1"], outcomes)
    assert verdict.status == status
    assert verdict.remediation_correct == score
    assert verdict.resolved is (status == "RESOLVED_FULL")


def test_checks_name_the_failing_tests_and_mark_pass_to_pass_as_collateral():
    f2p, p2p = resolve(["f1"], ["p1", "p2"], {"f1": "PASSED", "p1": "PASSED"}).checks()
    assert (f2p.name, f2p.passed, f2p.kind) == ("FAIL_TO_PASS", True, "remediation")
    assert (p2p.name, p2p.passed, p2p.kind) == ("PASS_TO_PASS", False, "collateral")
    assert p2p.detail == "1/2 passed; not passing: p2 (MISSING)"


def test_empty_groups_count_as_passing_like_swe_bench():
    assert resolve(["f1"], [], {"f1": "PASSED"}).status == "RESOLVED_FULL"


def test_test_files_come_from_node_ids_in_order():
    assert pytest_files(["b.py::t1", "a.py::C::t2", "b.py::t3", "c.py"]) == ["b.py", "a.py", "c.py"]
