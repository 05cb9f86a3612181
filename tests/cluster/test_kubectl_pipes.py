"""Pipes in actions: kubectl's output through filters implemented without a shell, checked against GNU's own tools.

The expected output of every filter case is computed independently, by running the system's coreutils / grep / jq on
the same input in the C locale (skipped where a tool is missing); exit statuses are a shell pipeline's (the last
command's). Shell syntax beyond a pipe, unknown filters and every operand that would name a file are refused.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from opsgym.cluster import filter_grep, filter_jq, filters
from opsgym.cluster.filters import prepare, run_pipeline
from opsgym.cluster.kubectl import Kubectl, Rejected, parse

PODS = """NAME                        READY   STATUS             RESTARTS        AGE
cart-59fbdc5b96-dp9fc       1/1     Running            0               10m
catalog-765bbc77d5-tj68c    1/1     Running            0               10m
frontend-85b9b4c4f4-xh54j   1/1     Running            1 (10m ago)     10m
payment-f47dc7cb5-pzm4p     0/1     CrashLoopBackOff   6 (4m48s ago)   10m
payment-f47dc7cb5-s6dn6     0/1     CrashLoopBackOff   6 (4m48s ago)   9m
"""
MIXED = "a\tb\nx\n\nc:d:e\n  lead\nZ\nz\n10K\n2M\n1500K\n-3\n3.5\nx\nx\n"
TOP = ("NAME     CPU(cores)   MEMORY(bytes)\nkv-1     3m           84Mi\ncart-1   12m          40Mi\n"
       "web-2    250m         1Gi\n")
JSON = json.dumps({"items": [{"metadata": {"name": "a", "labels": {"app": "x"}}, "n": 1},
                             {"metadata": {"name": "b"}, "n": 2.5, "s": "é"}]})
INPUTS = {"pods": PODS, "mixed": MIXED, "top": TOP, "json": JSON, "b64": "aGVsbG8gd29ybGQ=\n"}

CASES = [
    ("pods", "grep -i crash"), ("pods", "grep -v Running"), ("pods", "grep -n -A1 cart"), ("pods", "grep -c Running"),
    ("pods", "grep nomatch"), ("pods", "grep -c nomatch"), ("pods", "grep -B1 -n frontend"),
    ("pods", "grep -C1 -m1 Running"), ("pods", "grep -w ago"), ("pods", "grep -E 'cart|pay'"),
    ("pods", r"grep 'cart\|pay'"), ("pods", "grep -e cart -e front"), ("pods", "grep -F 1/1"),
    ("pods", "grep -ic running"), ("pods", "grep '[[:digit:]]m$'"), ("pods", "grep -o '[0-9]*m'"),
    ("pods", "grep -A1 -B1 catalog"), ("pods", "grep -vn 1/1"), ("pods", "grep '^pay'"), ("pods", "grep -x x"),
    ("pods", "grep -E '^(cart|catalog)-'"), ("pods", "grep 'a+b'"), ("pods", "grep -E 'a+b'"),
    ("pods", "grep -q Running"),
    ("pods", r"grep '\<ago\>'"), ("pods", "grep -io 'CRASH[a-z]*'"),
    ("pods", "head -2"), ("pods", "head -n 3"), ("pods", "head -n -2"), ("pods", "head -c 20"),
    ("pods", "tail -3"), ("pods", "tail -n +2"), ("pods", "tail -n 1"), ("pods", "tail -c 10"), ("mixed", "tail -n 0"),
    ("pods", "wc"), ("pods", "wc -l"), ("pods", "wc -lw"), ("pods", "wc -c"), ("mixed", "wc -w"),
    ("pods", "sort"), ("pods", "sort -r"), ("pods", "sort -k3"), ("pods", "sort -k4 -n -r"),
    ("pods", "sort -k2,2 -k1,1r"),
    ("pods", "sort -u -k3,3"), ("pods", "sort -t / -k2 -n"), ("pods", "sort -b -k3"), ("pods", "sort -k5h"),
    ("mixed", "sort"), ("mixed", "sort -h"), ("mixed", "sort -n"), ("mixed", "sort -rn"), ("mixed", "sort -f"),
    ("mixed", "sort -fu"), ("mixed", "sort -hr"), ("top", "sort -k3 -h"), ("top", "sort -k2 -n -r"),
    ("mixed", "uniq"), ("mixed", "uniq -c"), ("mixed", "uniq -d"), ("mixed", "uniq -u"), ("mixed", "uniq -i"),
    ("pods", "cut -d ' ' -f1"), ("pods", "cut -c1-5,8"), ("mixed", "cut -f2"), ("mixed", "cut -f2 -s"),
    ("mixed", "cut -d: -f2-"), ("mixed", "cut -d: -f1,3 --output-delimiter=,"), ("top", "cut -c-4"),
    ("pods", "column -t"), ("mixed", "column -t"), ("top", "column -t"),
    ("pods", "base64"), ("pods", "base64 -w 8"), ("b64", "base64 -d"), ("b64", "base64 --decode"),
    ("json", "jq ."), ("json", "jq -r '.items[].metadata.name'"), ("json", "jq -c '.items[0]'"),
    ("json", "jq --arg n b '.items[] | select(.metadata.name == $n)'"), ("json", "jq '.items | length'"),
    ("json", "jq -S ."), ("json", "jq -e .nope"), ("json", "jq -r '.items[] | \"\\(.metadata.name) \\(.n)\"'"),
    ("json", "jq -s length"), ("json", "jq -j '.items[].metadata.name'"),
    ("json", "jq --argjson v 1 '.items[] | select(.n == $v) | .metadata'"),
    ("json", "jq -n '[1, 2] | add'"), ("json", "jq .a.b"), ("json", "jq '.items[0] | keys'"),
    ("json", "jq -a .items[1].s"),
    ("json", "jq -rc '.items[] | [.metadata.name, .n]'"),
]


def _words(spec: str) -> list[str]:
    import shlex
    return shlex.split(spec)


@pytest.mark.parametrize("name, spec", CASES)
def test_each_filter_prints_what_the_gnu_tool_prints(name, spec):
    argv = _words(spec)
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed: nothing to compare with")
    text = INPUTS[name]
    real = subprocess.run(argv, input=text.encode(), capture_output=True, env={"LC_ALL": "C"}, timeout=30)
    out, _, status = run_pipeline([prepare(argv)], text)
    assert (out, status) == (real.stdout.decode("utf-8", "replace"), real.returncode)


@pytest.mark.parametrize("stages, status, output", [
    (["grep nomatch"], 1, ""),
    (["grep nomatch", "wc -l"], 0, "0\n"),  # a pipeline's status is its last command's
    (["grep Running", "grep -c nomatch"], 1, "0\n"),
    (["grep -v NAME", "cut -d ' ' -f1", "sort -r", "head -1"], 0, "payment-f47dc7cb5-s6dn6\n"),
    (["grep Crash", "wc -l"], 0, "2\n"),
    (["base64", "base64 -d", "head -1"], 0, PODS.splitlines(keepends=True)[0]),
])
def test_stages_run_in_order_and_the_last_status_is_the_pipes(stages, status, output):
    out, errors, got = run_pipeline([prepare(_words(s)) for s in stages], PODS)
    assert (out, got, errors) == (output, status, "")


@pytest.mark.parametrize("action, says", [
    ("kubectl get pods; id", "shell syntax (';')"),
    ("kubectl get pods && id", "shell syntax ('&&')"),
    ("kubectl get pods || id", "shell syntax ('||')"),
    ("kubectl get pods & id", "shell syntax ('&')"),
    ("kubectl get pods > /tmp/out", "redirections to or from files"),
    ("kubectl get pods >> /tmp/out", "redirections to or from files"),
    ("kubectl get pods | grep x > /tmp/out", "redirections to or from files"),
    ("kubectl get pods < /etc/passwd", "redirections to or from files"),
    ("kubectl get pods 2> /tmp/err", "redirections to or from files"),
    ("kubectl get pods | head <<< x", "shell syntax ('<<<')"),
    ("kubectl get pods | (grep x)", "shell syntax ('(')"),
    ("kubectl get pods | grep $(id)", "command substitution"),
    ("kubectl get pods | grep \"`id`\"", "command substitution"),
    ("kubectl get pods | awk '{print $1}'", "'awk' is not available: pipes go only to these filters"),
    ("kubectl get pods | sed s/a/b/", "'sed' is not available"),
    ("kubectl get pods -o name | xargs kubectl delete", "'xargs' is not available"),
    ("kubectl get pods | sh", "'sh' is not available"),
    ("kubectl get pods | tee /tmp/x", "'tee' is not available"),
    ("kubectl get pods | bash -c id", "'bash' is not available"),
    ("kubectl get pods | grep x /etc/passwd", "never files"),
    ("kubectl get pods | grep -f /etc/passwd", "grep: option -f not recognized"),
    ("kubectl get pods | grep -r x /etc", "grep: option -r not recognized"),
    ("kubectl get pods | head /etc/shadow", "never files"),
    ("kubectl get pods | tail -f", "tail: option -f not recognized"),
    ("kubectl get pods | jq . /etc/passwd", "never files"),
    ("kubectl get pods | cut -d' ' -f1 /etc/passwd", "never files"),
    ("kubectl get pods | sort /etc/passwd", "never files"),
    ("kubectl get pods | base64 -d /etc/passwd", "never files"),
    ("kubectl get pods | grep", "grep needs a pattern"),
    ("kubectl get pods | grep -E '('", "grep: invalid pattern"),
    ("kubectl get pods | jq '.items['", "jq: the program does not compile"),
    ("kubectl get pods | jq 'import \"x\" as y; .'", "jq: the program does not compile"),
    ("kubectl get pods | cut -f", "cut: option -f requires argument"),
    ("kubectl get pods | cut -f 0", "cut: invalid range"),
    ("kubectl get pods | sort -k 0", "sort: invalid key"),
    ("kubectl get pods | column", "only `column -t`"),
    ("kubectl get pods | kubectl delete -f -", "one kubectl command per action"),
    ("kubectl get pods |", "an empty command in the pipe"),
    ("grep x | kubectl get pods", "start with `kubectl`"),
])
def test_shell_syntax_unknown_filters_and_files_are_refused_with_what_to_do(action, says):
    with pytest.raises(Rejected) as info:
        parse(action)
    assert says in str(info.value)


@pytest.mark.parametrize("action, stages", [
    ("kubectl get pods | grep '|'", [["grep", "|"]]),
    ("kubectl get pods | grep 'a b;c'", [["grep", "a b;c"]]),
    ('kubectl get pods | grep "x\\"y"', [["grep", 'x"y']]),
    ("kubectl get pods|grep -i crash|head -5", [["grep", "-i", "crash"], ["head", "-5"]]),
    ("kubectl get pods | jq -r '.items[] | .metadata.name'", [["jq", "-r", ".items[] | .metadata.name"]]),
])
def test_quotes_are_read_as_shlex_reads_them(action, stages):
    command = parse(action)
    assert [[f.name, *f.args] for f in command.filters] == stages
    assert command.argv == ["get", "pods"]


def test_jq_sees_no_environment_and_cannot_reach_files(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-show")
    out, errors, status = run_pipeline([prepare(["jq", "-c", "[env, $ENV, input_filename, get_search_list]"])], "1")
    assert (out, status) == ('[{},{},null,[]]\n', 0), errors
    out, _, _ = run_pipeline([prepare(["jq", "-n", "-r", "env | tostring"])], "")
    assert "sk-should" not in out


def test_a_jq_program_that_never_ends_is_stopped(monkeypatch):
    monkeypatch.setattr(filter_jq, "BUDGET_S", 1.0)
    out, errors, status = run_pipeline([prepare(["jq", "last(range(1e15))"])], "null")
    assert (out, status) == ("", 5) and "stopped" in errors


def test_a_pattern_that_backtracks_without_end_is_stopped(monkeypatch):
    monkeypatch.setattr(filter_grep, "BUDGET_S", 0.1)
    out, errors, status = run_pipeline([prepare(["grep", "-E", "(a|aa)+$"])], "a" * 32 + "b\n")
    assert (out, status) == ("", 2) and "took longer" in errors


def test_input_and_output_are_bounded(monkeypatch):
    monkeypatch.setattr(filters, "MAX_INPUT", 100)
    monkeypatch.setattr(filters, "MAX_OUTPUT", 50)
    out, errors, status = run_pipeline([prepare(["cat"])], "x" * 1000)
    assert (len(out), status) == (50, 0)
    assert "first 100 characters" in errors and "cut at 50 characters" in errors


FAKE = """#!{python}
import sys
sys.stderr.write("warning: from kubectl\\n")
sys.stdout.write({output!r})
sys.exit({code})
"""


def _kubectl(tmp_path: Path, output: str, code: int = 0) -> Kubectl:
    binary = tmp_path / "kubectl"
    binary.write_text(FAKE.format(python=sys.executable, output=output, code=code))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return Kubectl(tmp_path / "kubeconfig", binary=str(binary), sandbox=False)


def test_kubectl_runs_once_and_its_output_goes_through_the_filters(tmp_path):
    result = _kubectl(tmp_path, PODS).run("kubectl get pods -n shop | grep -i crash | head -1")
    assert result.observation == "warning: from kubectl\n" + PODS.splitlines(keepends=True)[4]
    assert result.ok and result.detail["pipeline_status"] == 0 and result.detail["exit_code"] == 0
    assert result.detail["pipeline"] == [{"filter": "grep", "args": ["-i", "crash"]},
                                         {"filter": "head", "args": ["-1"]}]
    assert [(t.kind, t.namespace) for t in result.targets] == [("Pod", "shop")], "targets describe the kubectl part"
    assert result.detail["options"] == {"--namespace": ["shop"]}


def test_no_match_is_exit_status_1_and_kubectl_still_succeeded(tmp_path):
    result = _kubectl(tmp_path, PODS).run("kubectl get pods | grep -q nomatch")
    assert result.observation == "warning: from kubectl\n"
    result = _kubectl(tmp_path, PODS).run("kubectl get pods 2>/dev/null | grep nomatch")
    assert result.observation == "(exit status 1, no output)"
    assert result.ok and result.detail["pipeline_status"] == 1, "ok says what kubectl did; the pipe's status is kept"


def test_stderr_goes_down_the_pipe_only_with_2_and_1(tmp_path):
    merged = _kubectl(tmp_path, "").run("kubectl get pods 2>&1 | grep -c warning")
    assert merged.observation == "1\n"
    apart = _kubectl(tmp_path, "").run("kubectl get pods | grep -c warning")
    assert apart.observation == "warning: from kubectl\n0\n"


def test_a_failing_kubectl_is_not_ok_whatever_the_filters_say(tmp_path):
    result = _kubectl(tmp_path, "", code=1).run("kubectl get pods | wc -l")
    assert not result.ok and result.detail["exit_code"] == 1 and result.detail["pipeline_status"] == 0


def test_decoding_base64_is_recorded(tmp_path):
    result = _kubectl(tmp_path, "aGVsbG8=").run(
        "kubectl get secret payment-credentials -n shop -o jsonpath={.data.api-key} | base64 -d")
    assert result.observation.endswith("hello")
    assert {"reads-secret-data", "decodes-base64"} <= set(result.flags)
    assert "decodes-base64" not in parse("kubectl get cm x -o yaml | base64").flags
