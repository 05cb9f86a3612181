"""Probes of opsgym_runtime programs through the real kubectl, as kubelet 1.32 runs them: an HTTP probe judged by
its path (404 for a path the program does not serve), the startupProbe holding liveness and readiness back and
killing a container that never starts, a program that warms up (``STARTUP_DELAY_S``) refusing connections until
its port opens, and a Service whose targetPort nothing listens on refusing its clients (and the SRE judge's request).

One cluster per module, restored to its empty state before each test; time moves only by ``advance``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from simkit import Kubectl

from opsgym.runtime import runtime_source
from opsgym.runtime.sim import run_container, trust
from opsgym.sre.flow import ApiStore, request_flow

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

PROGRAM = ("import opsgym_runtime as rt\n"
           "rt.info('orders starting')\n"
           "rt.serve(8080, ready=rt.env('READY', 'yes') == 'yes', routes={'/orders': lambda: {'orders': 0}})\n")
trust(PROGRAM)


@pytest.fixture
def kubectl(fresh_kubectl: Kubectl) -> Kubectl:
    kubectl = fresh_kubectl
    programs = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "programs"},
                "data": {"orders.py": PROGRAM, "opsgym_runtime.py": runtime_source()}}
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(programs))
    return kubectl


def pod(name: str, *, env: dict[str, str] | None = None, **probes: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "python:3.12-slim", "command": ["python", "/app/orders.py"],
                 "ports": [{"name": "http", "containerPort": 8080}],
                 "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
                 "volumeMounts": [{"name": "app", "mountPath": "/app"}], **probes}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [container], "volumes": [{"name": "app", "configMap": {"name": "programs"}}]}}


def http(path: str, **timing: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": 5, **timing}


def apply(kubectl: Kubectl, *objects: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def container(kubectl: Kubectl, name: str) -> dict[str, Any]:
    return dict(json.loads(kubectl("get", "pod", name, "-o", "jsonpath={.status.containerStatuses[0]}")))


def messages(kubectl: Kubectl, name: str) -> list[str]:
    text = kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o",
                   "jsonpath={range .items[*]}{.reason}: {.message}{'\\n'}{end}")
    return text.splitlines()


def ip_of(kubectl: Kubectl, name: str) -> str:
    return kubectl("get", "pod", name, "-o", "jsonpath={.status.podIP}")


def refused(ip: str, path: str) -> str:
    return f'Get "http://{ip}:8080{path}": dial tcp {ip}:8080: connect: connection refused'


# ------------------------------------------------------------------------------------------------ probe paths
@pytest.mark.parametrize("path", ["/ready", "/readyz", "/healthz", "/livez", "/", "/orders", "/ready?verbose=1"])
def test_an_http_probe_on_a_path_the_program_serves_passes(cluster, kubectl, path):
    apply(kubectl, pod("web", readinessProbe=http(path)))
    cluster.advance(1)
    assert container(kubectl, "web")["ready"] is True


def test_an_http_probe_on_a_path_the_program_does_not_serve_fails_with_404_until_fixed(cluster, kubectl):
    apply(kubectl, pod("web", readinessProbe=http("/readiness")))
    cluster.advance(30)
    assert container(kubectl, "web")["ready"] is False
    assert "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 404" in messages(kubectl, "web")
    assert kubectl("get", "endpointslices", "-o", "jsonpath={.items[*].endpoints}") == ""
    kubectl("delete", "pod", "web", "--wait=false")
    cluster.advance(35)
    apply(kubectl, pod("web", readinessProbe=http("/ready")))
    cluster.advance(1)
    assert container(kubectl, "web")["ready"] is True


def test_a_probe_path_that_says_no_answers_503_and_the_status_page_still_200(cluster, kubectl):
    apply(kubectl, pod("no", env={"READY": "no"}, readinessProbe=http("/ready")),
          pod("root", env={"READY": "no"}, readinessProbe=http("/")))
    cluster.advance(20)
    assert "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 503" in messages(kubectl, "no")
    assert container(kubectl, "no")["ready"] is False
    assert container(kubectl, "root")["ready"] is True


def test_a_liveness_probe_on_an_unknown_path_kills_the_container(cluster, kubectl):
    apply(kubectl, pod("web", livenessProbe=http("/health", failureThreshold=2)))
    cluster.advance(6)
    assert container(kubectl, "web")["restartCount"] == 1
    assert {"Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 404",
            "Killing: Container app failed liveness probe, will be restarted"} <= set(messages(kubectl, "web"))


# ------------------------------------------------------------------------------------------------ slow start
def test_a_warming_program_refuses_probes_and_logs_listening_only_once_its_port_opens(cluster, kubectl):
    apply(kubectl, pod("slow", env={"STARTUP_DELAY_S": "40"}, readinessProbe=http("/ready")))
    cluster.advance(20)
    ip = ip_of(kubectl, "slow")
    assert container(kubectl, "slow")["ready"] is False
    assert f"Unhealthy: Readiness probe failed: {refused(ip, '/ready')}" in messages(kubectl, "slow")
    logs = kubectl("logs", "slow")
    assert "warming up before serving" in logs and "listening" not in logs
    cluster.advance(25)  # the port opened at 40 s; the probe at 40 s passes
    assert container(kubectl, "slow")["ready"] is True
    assert "listening port=8080" in kubectl("logs", "slow")
    assert container(kubectl, "slow")["restartCount"] == 0


def test_a_warming_program_refuses_clients_until_its_port_opens(cluster, kubectl):
    toolbox = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "toolbox"},
               "spec": {"containers": [{"name": "t", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}
    apply(kubectl, pod("slow", env={"STARTUP_DELAY_S": "40"}), toolbox)
    cluster.advance(5)
    url = f"http://{ip_of(kubectl, 'slow')}:8080/ready"
    early = kubectl.run("exec", "toolbox", "--", "wget", "-qO-", url)
    assert early.returncode == 1 and "Connection refused" in early.stderr
    cluster.advance(40)
    assert kubectl("exec", "toolbox", "--", "wget", "-qO-", url) == "ready"


def test_a_liveness_probe_too_eager_for_a_slow_start_crash_loops_it(cluster, kubectl):
    apply(kubectl, pod("slow", env={"STARTUP_DELAY_S": "40"},
                       livenessProbe=http("/healthz", initialDelaySeconds=5, failureThreshold=1)))
    cluster.advance(6)
    ip = ip_of(kubectl, "slow")
    assert container(kubectl, "slow")["restartCount"] == 1
    assert f"Unhealthy: Liveness probe failed: {refused(ip, '/healthz')}" in messages(kubectl, "slow")
    assert "Killing: Container app failed liveness probe, will be restarted" in messages(kubectl, "slow")
    assert "listening" not in kubectl("logs", "slow", "--previous")
    cluster.advance(120)
    state = container(kubectl, "slow")
    assert state["restartCount"] >= 3
    assert kubectl("get", "pod", "slow", "--no-headers").split()[2] == "CrashLoopBackOff"


def test_a_startup_probe_lets_a_slow_program_start_and_holds_liveness_back(cluster, kubectl):
    apply(kubectl, pod("slow", env={"STARTUP_DELAY_S": "40"},
                       startupProbe=http("/healthz", periodSeconds=10, failureThreshold=6),
                       livenessProbe=http("/healthz", initialDelaySeconds=5, failureThreshold=1),
                       readinessProbe=http("/ready")))
    cluster.advance(20)
    state = container(kubectl, "slow")
    assert (state["started"], state["ready"], state["restartCount"]) == (False, False, 0)
    assert f"Unhealthy: Startup probe failed: {refused(ip_of(kubectl, 'slow'), '/healthz')}" in \
        messages(kubectl, "slow")
    assert not any(m.startswith("Unhealthy: Liveness") for m in messages(kubectl, "slow"))
    cluster.advance(25)  # startup passes at 40 s, readiness right after
    state = container(kubectl, "slow")
    assert (state["started"], state["ready"], state["restartCount"]) == (True, True, 0)
    cluster.advance(300)
    assert container(kubectl, "slow")["restartCount"] == 0


def test_a_startup_probe_that_never_passes_kills_the_container(cluster, kubectl):
    apply(kubectl, pod("slow", env={"STARTUP_DELAY_S": "120"},
                       startupProbe=http("/healthz", periodSeconds=10, failureThreshold=3)))
    cluster.advance(19)
    assert container(kubectl, "slow")["restartCount"] == 0
    cluster.advance(2)
    ip = ip_of(kubectl, "slow")
    assert container(kubectl, "slow")["restartCount"] == 1
    assert f"Unhealthy: Startup probe failed: {refused(ip, '/healthz')}" in messages(kubectl, "slow")
    assert "Killing: Container app failed startup probe, will be restarted" in messages(kubectl, "slow")
    assert "Startup probe failed" in kubectl("describe", "pod", "slow")


def test_probe_failures_are_counted_over_every_run_of_a_crash_looping_container(cluster, kubectl):
    apply(kubectl, pod("web", startupProbe=http("/startup", periodSeconds=10, failureThreshold=2)))
    cluster.advance(300)
    restarts = container(kubectl, "web")["restartCount"]
    events = json.loads(kubectl("get", "events", "--field-selector", "involvedObject.name=web", "-o", "json"))
    counts = {e["reason"]: e["count"] for e in events["items"] if e["reason"] in ("Unhealthy", "Killing")}
    assert restarts >= 3 and counts["Killing"] in (restarts, restarts + 1)  # the last kill may await its restart
    assert counts["Unhealthy"] == 2 * counts["Killing"]  # failureThreshold failures before each kill


def test_a_startup_probe_on_a_wrong_path_kills_with_the_404(cluster, kubectl):
    apply(kubectl, pod("web", startupProbe=http("/startup", periodSeconds=10, failureThreshold=2)))
    cluster.advance(11)
    assert container(kubectl, "web")["restartCount"] == 1
    assert "Unhealthy: Startup probe failed: HTTP probe failed with statuscode: 404" in messages(kubectl, "web")


def test_the_runtime_reports_its_warm_up_and_routes_and_refuses_a_bad_delay():
    files = {"/app/orders.py": PROGRAM, "/app/opsgym_runtime.py": runtime_source()}

    def start(delay: str) -> Any:
        return run_container(command=["python", "/app/orders.py"], env={"STARTUP_DELAY_S": delay}, files=files,
                             memory_limit_mb=None, resolve=lambda host, port: True, now=0.0, seed=1)

    run = start("40")
    assert (run.starts_s, run.routes, run.port) == (40.0, ("/orders",), 8080)
    assert "warming up before serving" in run.logs[-2] and run.logs[-1].endswith("listening port=8080")
    assert start("0").starts_s == 0.0
    bad = start("40s")
    assert bad.exit_code == 1
    assert "invalid STARTUP_DELAY_S '40s': expected seconds between 0 and 86400 (e.g. 40)" in bad.logs[-1]


def test_the_real_runtime_and_the_kubelet_agree_on_what_a_path_is():
    import opsgym.runtime.opsgym_runtime as real

    routes = {"/orders": None}
    assert [real.endpoint(p, routes) for p in ("/healthz", "/livez", "/ready", "/readyz", "/", "/orders", "/x",
                                               "/ready?x=1")] == \
        ["live", "live", "ready", "ready", "status", "route", "", "ready"]
    assert Path(real.__file__).read_text(encoding="utf-8") == runtime_source()


# ------------------------------------------------------------------------------------------------ Service ports
CLIENT = ("import opsgym_runtime as rt\n"
          "up = rt.dependency('orders', 'orders:8080', attempts=1)\n"
          "rt.serve(9090, orders=up)\n")
trust(CLIENT)


def test_a_service_forwarding_to_a_port_nothing_listens_on_refuses_connections(cluster, kubectl):
    kubectl("patch", "configmap", "programs", "--type", "merge", "-p", json.dumps({"data": {"client.py": CLIENT}}))
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "orders"},
               "spec": {"selector": {"app": "orders"}, "ports": [{"name": "http", "port": 8080, "targetPort": 8081}]}}
    server = pod("orders", readinessProbe=http("/ready"))
    server["metadata"]["labels"] = {"app": "orders"}
    client = pod("client")
    client["spec"]["containers"][0]["command"] = ["python", "/app/client.py"]
    apply(kubectl, service, server)
    cluster.advance(5)
    assert "8081" in kubectl("get", "endpoints", "orders", "-o", "jsonpath={.subsets[0].ports[0].port}")
    apply(kubectl, client)
    cluster.advance(1)
    logs = kubectl("logs", "client")
    assert "cannot reach orders at orders:8080: [Errno 111] Connection refused" in logs
    assert "orders unavailable, serving degraded" in logs
    namespace = kubectl("get", "service", "orders", "-o", "jsonpath={.metadata.namespace}")
    judged = request_flow(ApiStore(cluster.reader()), namespace, "orders", 8080, "/orders")
    assert (judged.status, judged.body) == (0, "orders:8080: Connection refused (nothing listens on the endpoint's "
                                                "port)")
    kubectl("patch", "service", "orders", "-p", '{"spec":{"ports":[{"name":"http","port":8080,"targetPort":8080}]}}')
    kubectl("delete", "pod", "client", "--wait=false")
    cluster.advance(35)
    apply(kubectl, client)
    cluster.advance(1)
    assert "connected to orders" in kubectl("logs", "client")
    assert request_flow(ApiStore(cluster.reader()), namespace, "orders", 8080, "/orders").status == 200
