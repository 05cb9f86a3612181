"""Log lines in the runtime's three formats parse back to the same fields and render back to the same text."""

from __future__ import annotations

import pytest

from opsgym.perturb.text import map_lines, parse_log_line, parse_sample, render_log_line, render_sample, rng_for
from opsgym.runtime.opsgym_runtime import format_line

FIELDS = {"addr": "payment:8080", "timeout_ms": 2500, "note": "two words", "ok": "yes"}


@pytest.mark.parametrize("fmt", ["plain", "json", "logfmt"])
def test_runtime_log_lines_round_trip(fmt):
    line = format_line(fmt, 1700000000.25, "error", "checkout", "dependency unreachable", FIELDS)
    parsed = parse_log_line(line)
    assert parsed is not None and parsed.fmt == fmt
    assert parsed.fields["level"] == "error" and parsed.fields["msg"] == "dependency unreachable"
    assert parsed.fields["timeout_ms"] == 2500 and parsed.fields["note"] == "two words"
    assert render_log_line(parsed) == line


@pytest.mark.parametrize("fmt", ["plain", "json", "logfmt"])
def test_converting_between_formats_keeps_every_field(fmt):
    line = format_line("json", 1700000000, "warning", "cart", "slow", FIELDS)
    converted = render_log_line(parse_log_line(line), fmt)
    assert parse_log_line(converted).fields == parse_log_line(line).fields


@pytest.mark.parametrize("text", [
    "NAME                        READY   STATUS             RESTARTS   AGE",
    "checkout-7d9f8-abcde        0/1     CrashLoopBackOff   4          2m",
    "Labels: app=checkout",
    "DB_HOST=db",
    "Error from server (NotFound): deployments.apps \"x\" not found",
])
def test_non_log_text_is_not_mistaken_for_a_log_line(text):
    assert parse_log_line(text) is None


def test_prometheus_samples_round_trip():
    line = 'http_requests_total{code="500",service="checkout"} 12'
    assert render_sample(parse_sample(line)) == line
    assert parse_sample("process_resident_memory_bytes 1.5e+07").value == "1.5e+07"


def test_map_lines_leaves_unrecognised_lines_alone():
    text = "header\n" + format_line("json", 0, "info", "a", "m", {}) + "\ntrailer"
    assert map_lines(text, log=lambda line, i: "X") == "header\nX\ntrailer"


def test_rng_is_stable_and_depends_on_every_part():
    assert rng_for(1, "a", "b").random() == rng_for(1, "a", "b").random()
    assert rng_for(1, "a").random() != rng_for(2, "a").random()
