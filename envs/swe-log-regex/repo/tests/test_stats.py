import pytest

from accesslog.parser import parse_lines
from accesslog.stats import percentile, summarize

LOG = """\
10.0.0.1 - - [10/Oct/2023:13:00:00 +0000] "GET /a HTTP/1.1" 200 100 "-" "probe/1" 0.010
10.0.0.2 - - [10/Oct/2023:13:00:01 +0000] "GET /a HTTP/1.1" 200 100 "-" "probe/1" 0.020
10.0.0.3 - - [10/Oct/2023:13:00:02 +0000] "GET /b HTTP/1.1" 404 50 "-" "curl/8" 0.030
10.0.0.4 - - [10/Oct/2023:13:00:03 +0000] "POST /c HTTP/1.1" 503 0 "-" "curl/8" 1.500
"""


def test_summary_counts_statuses_paths_and_bytes():
    summary = summarize(parse_lines(LOG.splitlines()).records)
    assert summary.requests == 4
    assert summary.bytes_sent == 250
    assert summary.by_status_class == {"2xx": 2, "4xx": 1, "5xx": 1}
    assert summary.top_paths[0] == ("/a", 2)
    assert summary.p95_duration == 1.5


def test_summary_without_durations():
    summary = summarize(parse_lines(['::1 - - [10/Oct/2023:13:00:00 +0000] "GET / HTTP/1.1" 200 5']).records)
    assert summary.p95_duration is None
    assert summary.top_agents == []


def test_percentile_nearest_rank():
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile([5], 99) == 5
    with pytest.raises(ValueError):
        percentile([], 50)
