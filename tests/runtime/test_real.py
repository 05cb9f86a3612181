"""The real runtime: the shipped module runs a program as a real process, with real probes, memory and exit codes."""

from __future__ import annotations

import ast
import json
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsgym.runtime import RUNTIME_FILE, runtime_source
from opsgym.runtime.sim import run_container, trust

PROGRAM = '''
import opsgym_runtime as rt

cfg = rt.read_config(rt.env("CONF"))
rt.dependency("store", rt.env("STORE_ADDR"), attempts=1)
rt.allocate(int(cfg["cache_mb"]), what="cache")
limit = int(cfg["max_items"])
rt.serve(int(rt.env("PORT")), ready=limit > 1, items=limit)
'''
trust(PROGRAM)
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app(tmp_path: Path) -> Path:
    shutil.copy(RUNTIME_FILE, tmp_path / "opsgym_runtime.py")
    (tmp_path / "demo.py").write_text(PROGRAM)
    return tmp_path


@pytest.fixture
def store() -> Iterator[int]:
    """A listening TCP socket on loopback standing in for the dependency."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def start(app: Path, conf: str, env: dict[str, str]) -> subprocess.Popen[str]:
    (app / "demo.conf").write_text(conf)
    full = {"CONF": str(app / "demo.conf"), "PATH": "/usr/bin:/bin", **env}
    return subprocess.Popen([sys.executable, str(app / "demo.py")], cwd=app, env=full, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the process's memory")
def test_a_real_process_serves_probes_and_really_holds_its_memory(app, store):
    port = free_port()
    proc = start(app, "cache_mb = 40\nmax_items = 5\n", {"PORT": str(port), "STORE_ADDR": f"127.0.0.1:{store}"})
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert "connected to store" in lines[0] and "listening port=" in lines[1]
        assert get(port, "/healthz") == (200, "alive")
        assert get(port, "/ready") == (200, "ready")
        assert json.loads(get(port, "/")[1]) == {"service": "demo", "items": 5}
        assert get(port, "/nope")[0] == 404
        assert rss_mb(proc.pid) > 40
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_readiness_false_answers_503(app, store):
    port = free_port()
    proc = start(app, "cache_mb = 1\nmax_items = 1\n", {"PORT": str(port), "STORE_ADDR": f"127.0.0.1:{store}"})
    try:
        assert "listening" in proc.stdout.readline() + proc.stdout.readline()
        assert get(port, "/ready")[0] == 503
        assert get(port, "/healthz")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_refused_dependency_degrades_but_serves(app):
    port = free_port()
    proc = start(app, "cache_mb = 1\nmax_items = 5\n", {"PORT": str(port), "STORE_ADDR": f"127.0.0.1:{free_port()}"})
    try:
        out = [proc.stdout.readline() for _ in range(3)]
        assert "Connection refused" in out[0] and "serving degraded" in out[1] and "listening" in out[2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def without_stamps(lines: list[str]) -> list[str]:
    return [STAMP.sub("", line) for line in lines if line.strip() and set(line.strip()) - set("^~")]


def test_a_crash_looks_the_same_for_real_and_in_the_sim(app, store):
    conf = "cache_mb = 1\nmax_items = lots\n"
    env = {"PORT": str(free_port()), "STORE_ADDR": f"127.0.0.1:{store}"}
    proc = start(app, conf, env)
    out, _ = proc.communicate(timeout=30)
    sim = run_container(command=["python", "/app/demo.py"], env={**env, "CONF": "/etc/demo.conf"}, seed=0,
                        files={"/app/demo.py": PROGRAM, "/app/opsgym_runtime.py": runtime_source(),
                               "/etc/demo.conf": conf},
                        memory_limit_mb=None, resolve=lambda h, p: h == "127.0.0.1", now=0.0)
    real = without_stamps(out.splitlines())
    real = [line.replace(str(app), "/app") for line in real]
    assert proc.returncode == sim.exit_code == 1
    assert real == without_stamps(list(sim.logs))


def test_the_real_host_tells_unresolvable_from_refused(monkeypatch):
    import opsgym.runtime.opsgym_runtime as real

    def no_such_name(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    host = real._Host()
    assert host.connect("127.0.0.1", free_port(), 1.0).startswith("refused:")
    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    assert host.connect("no-such-service", 80, 1.0) == "unresolvable: [Errno -2] Name or service not known"


def test_the_shipped_module_uses_only_the_standard_library():
    tree = ast.parse(runtime_source())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"__future__", "json", "os", "random", "sys", "time", "socket", "http.server",
                         "http.client"}
