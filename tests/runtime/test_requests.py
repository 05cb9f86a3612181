"""Requests between programs: a serving program answers its routes and calls its dependencies, in the simulated
runtime (in-process, wired by the caller) and in the real one (HTTP on loopback), with the same answers."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsgym.runtime import RUNTIME_FILE, runtime_source
from opsgym.runtime.sim import ContainerRun, run_container, trust

FRONT = '''
import opsgym_runtime as rt

backend = rt.env("BACKEND_ADDR", "backend:8080")


def page() -> dict:
    return {"calls": rt.call_all({"backend": (backend, "/data"), "store": (rt.env("STORE_ADDR", "store:80"), "/get")})}


rt.serve(int(rt.env("PORT", "8080")), routes={"/page": page})
'''
BACKEND = '''
import opsgym_runtime as rt

rt.serve(int(rt.env("PORT", "8080")), routes={"/data": lambda: {"rows": 3}})
'''
STORE = BACKEND.replace('"/data"', '"/get"')
for source in (FRONT, BACKEND, STORE):
    trust(source)


def start(program: str, name: str, request=None, env: dict[str, str] | None = None) -> ContainerRun:
    files = {f"/app/{name}.py": program, "/app/opsgym_runtime.py": runtime_source()}
    return run_container(command=["python", f"/app/{name}.py"], env=env or {}, files=files, memory_limit_mb=None,
                         resolve=lambda host, port: True, now=0.0, seed=1, request=request)


def network(programs: dict[str, ContainerRun]):
    """Hosts → the programs that answer them; anything else does not resolve."""
    def request(host: str, port: int, path: str) -> tuple[int, str]:
        target = programs.get(host.partition(".")[0])
        return target.answer(path) if target and target.answer else (0, "Name or service not known")
    return request


def test_a_request_flows_through_the_dependencies_and_names_every_service():
    programs: dict[str, ContainerRun] = {}
    request = network(programs)
    programs["backend"] = start(BACKEND, "backend", request)
    programs["store"] = start(STORE, "store", request)
    front = start(FRONT, "front", request)
    status, body = front.answer("/page")
    answer = json.loads(body)
    assert status == 200 and answer["service"] == "front"
    assert {name: call["service"] for name, call in answer["calls"].items()} == {"backend": "backend", "store": "store"}


def test_an_address_that_reaches_another_service_fails_the_request_naming_who_answered():
    programs: dict[str, ContainerRun] = {}
    request = network(programs)
    programs["backend"] = start(BACKEND, "backend", request)
    programs["store"] = start(STORE, "store", request)
    front = start(FRONT, "front", request, env={"STORE_ADDR": "backend:8080"})
    status, body = front.answer("/page")
    answer = json.loads(body)
    assert status == 502 and answer["service"] == "front"
    assert "store at backend:8080/get answered 404" in answer["error"]


def test_every_call_is_made_even_when_one_fails():
    asked: list[str] = []

    def request(host: str, port: int, path: str) -> tuple[int, str]:
        asked.append(host)
        return 0, "refused"

    status, body = start(FRONT, "front", request).answer("/page")
    assert status == 502 and asked == ["backend", "store"]
    assert "backend at backend:8080" in json.loads(body)["error"] and "store at store:80" in json.loads(body)["error"]


def test_unknown_routes_are_404_and_a_run_without_a_network_offers_no_requests():
    assert start(BACKEND, "backend", network({})).answer("/nope")[0] == 404
    assert start(BACKEND, "backend").answer is None  # the kubelet's runs do not keep their programs alive


# ------------------------------------------------------------------------------------------------ the real runtime
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def real_shop(tmp_path: Path) -> Iterator[int]:
    """FRONT, BACKEND and a store as real processes on loopback; yields FRONT's port."""
    shutil.copy(RUNTIME_FILE, tmp_path / "opsgym_runtime.py")
    programs = {"backend": BACKEND, "store": STORE, "front": FRONT}
    ports = {name: free_port() for name in programs}
    procs = []
    for name, program in programs.items():
        (tmp_path / f"{name}.py").write_text(program)
        env = {"PATH": "/usr/bin:/bin", "PORT": str(ports[name]), "BACKEND_ADDR": f"127.0.0.1:{ports['backend']}",
               "STORE_ADDR": f"127.0.0.1:{ports['store']}"}
        procs.append(subprocess.Popen([sys.executable, str(tmp_path / f"{name}.py")], cwd=tmp_path, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        for port in ports.values():
            for _ in range(200):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)  # polling a real process's start-up, not synchronising the test's own threads
        yield ports["front"]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_the_real_runtime_answers_routes_and_calls_dependencies_over_http(real_shop):
    with urllib.request.urlopen(f"http://127.0.0.1:{real_shop}/page", timeout=10) as response:
        answer = json.loads(response.read())
    assert answer["service"] == "front"
    assert {name: call["service"] for name, call in answer["calls"].items()} == {"backend": "backend", "store": "store"}
