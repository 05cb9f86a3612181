"""The simulated runtime: a program's source runs in-process and the kubelet learns what a real start would do."""

from __future__ import annotations

import json

import pytest

from opsgym.runtime import runtime_source
from opsgym.runtime.sim import BASE_MEMORY_MB, LINE_BUDGET, ContainerRun, run_container, trust

SERVICE = '''
import opsgym_runtime as rt

cfg = rt.read_config("/etc/demo/demo.conf")
rt.info("starting", version="1.0")
rt.dependency("store", rt.env("STORE_ADDR", "store:6379"))
rt.allocate(int(cfg["cache_mb"]), what="cache")
limit = int(cfg["max_items"])
if limit <= 0:
    rt.fail(f"max_items must be positive, got {limit}", code=3)
rt.serve(int(rt.env("PORT", "8080")), ready=lambda: limit > 1, jitter=rt.random().random())
'''
trust(SERVICE)


def files(conf: str = "cache_mb = 30\nmax_items = 10\n", *, runtime: bool = True) -> dict[str, str]:
    out = {"/app/demo.py": SERVICE, "/etc/demo/demo.conf": conf}
    if runtime:
        out["/app/opsgym_runtime.py"] = runtime_source()
    return out


def run(conf: str = "cache_mb = 30\nmax_items = 10\n", *, env: dict[str, str] | None = None, limit: float | None = 128,
        up: frozenset[str] = frozenset({"store"}), known: frozenset[str] | None = None, seed: int = 7,
        command: list[str] | None = None, runtime: bool = True) -> ContainerRun:
    lookup = None if known is None else (lambda host: host in known)
    command = ["python", "/app/demo.py"] if command is None else command
    return run_container(command=command, env=env or {}, files=files(conf, runtime=runtime), memory_limit_mb=limit,
                         resolve=lambda host, port: host in up and port == 6379,
                         now=1_700_000_000.0, seed=seed, lookup=lookup)


def test_a_healthy_program_is_serving_with_its_probes_and_memory():
    result = run()
    assert result.exit_code is None and result.reason == ""
    assert (result.ready, result.live, result.port) == (True, True, 8080)
    assert result.memory_mb == pytest.approx(BASE_MEMORY_MB + 30)
    assert [line.split(" [demo] ")[1].split(" ")[0] for line in result.logs] == ["starting", "connected", "listening"]
    assert result.logs[0].startswith("2023-11-14T22:13:20.000Z INFO ")


def test_readiness_comes_from_the_program():
    assert run("cache_mb = 1\nmax_items = 1\n").ready is False


def test_an_invalid_config_value_crashes_with_a_python_traceback():
    result = run("cache_mb = 1\nmax_items = lots\n")
    assert (result.exit_code, result.reason, result.ready) == (1, "Error", False)
    assert result.logs[-4:] == (
        "Traceback (most recent call last):",
        '  File "/app/demo.py", line 8, in <module>',
        '    limit = int(cfg["max_items"])',
        "ValueError: invalid literal for int() with base 10: 'lots'",
    )


def test_fail_logs_fatal_and_exits_with_the_code():
    result = run("cache_mb = 1\nmax_items = 0\n")
    assert (result.exit_code, result.reason) == (3, "Error")
    assert "FATAL [demo] max_items must be positive, got 0" in result.logs[-1]


def test_memory_over_the_limit_is_oomkilled():
    result = run("cache_mb = 200\nmax_items = 5\n", limit=128)
    assert (result.exit_code, result.reason, result.memory_mb) == (137, "OOMKilled", 128)
    assert "connected to store" in result.logs[-1]  # logs written before the kill survive


def test_a_dependency_name_that_does_not_resolve_crashes_after_retries():
    result = run(env={"STORE_ADDR": "stor:6379"}, known=frozenset({"store"}))
    assert result.exit_code == 1
    assert sum("Name or service not known" in line for line in result.logs) == 3
    assert "does not resolve" in result.logs[-1]


def test_a_dependency_that_exists_but_refuses_degrades_instead_of_crashing():
    result = run(up=frozenset(), known=frozenset({"store"}))
    assert result.exit_code is None and result.ready
    assert any("Connection refused" in line for line in result.logs)
    assert "serving degraded" in result.logs[-2]


def test_strict_dependencies_make_a_refused_dependency_fatal():
    result = run(up=frozenset(), known=frozenset({"store"}), env={"STRICT_DEPENDENCIES": "true"})
    assert result.exit_code == 1 and "STRICT_DEPENDENCIES" in result.logs[-1]


def test_without_lookup_a_failed_resolve_reads_as_an_unknown_name():
    assert run(up=frozenset()).exit_code == 1


def test_retries_advance_the_virtual_clock():
    result = run(env={"STORE_ADDR": "stor:6379"}, known=frozenset({"store"}))
    assert result.logs[-1].startswith("2023-11-14T22:13:24")


@pytest.mark.parametrize("fmt", ["json", "logfmt", "plain"])
def test_log_format_follows_the_env(fmt):
    first = run(env={"LOG_FORMAT": fmt}).logs[0]
    if fmt == "json":
        assert json.loads(first) | {"ts": "-"} == {"ts": "-", "level": "info", "service": "demo", "msg": "starting",
                                                   "version": "1.0"}
    elif fmt == "logfmt":
        assert first == "ts=2023-11-14T22:13:20.000Z level=info service=demo msg=starting version=1.0"
    else:
        assert first == "2023-11-14T22:13:20.000Z INFO  [demo] starting version=1.0"


def test_log_level_filters_lines():
    assert run(env={"LOG_LEVEL": "error"}).logs == ()


def test_same_inputs_and_seed_give_the_same_run_and_another_seed_other_timestamps():
    assert run(seed=1) == run(seed=1)
    assert run(seed=1).logs != run(seed=2).logs


def test_a_missing_program_file_behaves_like_python():
    result = run(command=["python3", "/app/nope.py"])
    assert (result.exit_code, result.logs) == (2, ("python3: can't open file '/app/nope.py': [Errno 2] No such file "
                                                   "or directory",))


def test_a_missing_runtime_module_is_a_module_not_found_error():
    result = run(runtime=False)
    assert result.exit_code == 1
    assert result.logs[-1] == "ModuleNotFoundError: No module named 'opsgym_runtime'"


def test_interpreter_flags_before_the_path_are_skipped():
    assert run(command=["/usr/local/bin/python", "-u", "/app/demo.py"]).port == 8080


@pytest.mark.parametrize("command", [["nginx", "-g", "daemon off;"], ["python", "-c", "print(1)"], []])
def test_other_commands_are_generic_long_running_containers(command):
    result = run(command=command)
    assert (result.exit_code, result.ready, result.live, result.logs) == (None, True, True, ())


def test_an_untrusted_program_is_refused_not_executed():
    tampered = files()
    tampered["/app/demo.py"] = "import opsgym_runtime as rt\nrt.serve(9999)\n"
    result = run_container(command=["python", "/app/demo.py"], env={}, files=tampered, memory_limit_mb=None,
                           resolve=lambda h, p: True, now=0.0, seed=0)
    assert result.exit_code == 1 and "refusing to run /app/demo.py" in result.logs[-1]


@pytest.mark.parametrize("body, error", [
    ("import socket\n", "ModuleNotFoundError: No module named 'socket'"),
    ("import threading\n", "ModuleNotFoundError: No module named 'threading'"),
    ("open('/etc/passwd')\n", "PermissionError: use opsgym_runtime.read_file"),
])
def test_programs_cannot_reach_real_io(body, error):
    trust(body)
    result = run_container(command=["python", "/app/x.py"], env={}, files={"/app/x.py": body}, memory_limit_mb=None,
                           resolve=lambda h, p: True, now=0.0, seed=0)
    assert result.exit_code == 1 and result.logs[-1].startswith(error)


def test_a_runaway_program_is_cut_off_as_hung():
    body = "n = 0\nwhile True:\n    n += 1\n"
    trust(body)
    result = run_container(command=["python", "/app/spin.py"], env={}, files={"/app/spin.py": body},
                           memory_limit_mb=None, resolve=lambda h, p: True, now=0.0, seed=0)
    assert (result.exit_code, result.ready, result.live, result.port) == (None, False, False, None)
    assert LINE_BUDGET > 0


def test_sibling_modules_load_from_the_mounted_files():
    helper = "def answer():\n    return 42\n"
    main = "import opsgym_runtime as rt\nimport helper\nrt.exit(helper.answer() - 42)\n"
    trust(helper)
    trust(main)
    result = run_container(command=["python", "/app/main.py"], env={}, memory_limit_mb=None, now=0.0, seed=0,
                           files={"/app/main.py": main, "/app/helper.py": helper,
                                  "/app/opsgym_runtime.py": runtime_source()}, resolve=lambda h, p: True)
    assert (result.exit_code, result.reason) == (0, "Completed")


def test_system_exit_codes_are_kept():
    body = "raise SystemExit(4)\n"
    trust(body)
    result = run_container(command=["python", "/a.py"], env={}, files={"/a.py": body}, memory_limit_mb=None,
                           resolve=lambda h, p: True, now=0.0, seed=0)
    assert (result.exit_code, result.reason) == (4, "Error")
