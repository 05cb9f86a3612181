"""Generic containers (images that are not one of the app's programs) with the real kubectl and the default runtime:
a command the exec interpreter knows runs and exits with its code, its output is the container's log; a catalogued
server (nginx, redis, CoreDNS, kube-proxy) listens on its ports and answers probes and requests; anything else keeps
running silently."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl, rows

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.images import container_command, image_config

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=11) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


@pytest.fixture(scope="module")
def toolbox(cluster: SimCluster, kubectl: Kubectl) -> str:
    """A busybox pod to run wget from."""
    apply(kubectl, pod("toolbox", {"image": "busybox:1.36", "command": ["sleep", "infinity"]}))
    cluster.advance(2)
    return "toolbox"


def apply(kubectl: Kubectl, *objects: dict) -> None:
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def pod(name: str, container: dict, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"containers": [{"name": name, **container}], **spec}}


def field(kubectl: Kubectl, kind: str, name: str, path: str) -> str:
    return kubectl("get", kind, name, "-o", f"jsonpath={path}")


def job_pods(kubectl: Kubectl, job: str) -> list[list[str]]:
    return rows(kubectl("get", "pods", "-l", f"job-name={job}", "--no-headers"))


# ------------------------------------------------------------------------------------------------ commands
def test_a_job_of_busybox_echo_completes_and_logs_its_output(cluster, kubectl):
    assert kubectl("create", "job", "hello", "--image=busybox:1.36", "--", "echo", "hi") == "job.batch/hello created\n"
    cluster.advance(5)
    assert rows(kubectl("get", "job", "hello"))[1][:3] == ["hello", "Complete", "1/1"]
    assert kubectl("logs", "job/hello") == "hi\n"
    assert [r[1:3] for r in job_pods(kubectl, "hello")] == [["0/1", "Completed"]]


def test_a_failing_shell_command_plays_the_jobs_backoff_until_the_limit(cluster, kubectl):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "three"},
           "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo failing >&2; exit 3"]}]}}}}
    apply(kubectl, job)
    cluster.advance(5)
    first = job_pods(kubectl, "three")
    assert [r[2] for r in first] == ["Error"], "one failure, the next pod waits for its back-off"
    cluster.advance(60)
    assert rows(kubectl("get", "job", "three"))[1][:3] == ["three", "Failed", "0/1"]
    assert field(kubectl, "job", "three", "{.status.conditions[?(@.type=='Failed')].reason}") == \
        "BackoffLimitExceeded"
    pods = job_pods(kubectl, "three")
    assert len(pods) == 2 and {r[2] for r in pods} == {"Error"}
    code = field(kubectl, "pod", pods[0][0], "{.status.containerStatuses[0].state.terminated.exitCode}")
    assert code == "3"
    assert kubectl("logs", pods[0][0]) == "failing\n"


def test_a_cronjob_of_busybox_date_completes_a_job_every_minute(cluster, kubectl):
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "clock"},
            "spec": {"schedule": "*/1 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [
                    {"name": "date", "image": "busybox:1.36", "command": ["date"]}]}}}}}}
    apply(kubectl, cron)
    cluster.advance(185)
    runs = [r for r in rows(kubectl("get", "jobs", "--no-headers")) if r[0].startswith("clock-")]
    assert len(runs) == 3 and {r[1] for r in runs} == {"Complete"}
    printed = kubectl("logs", f"job/{runs[-1][0]}")
    assert printed.endswith(" UTC 2025\n") and printed[:3] in ("Wed", "Thu"), printed


def test_a_debug_pod_sleeps_its_virtual_seconds_then_completes(cluster, kubectl):
    kubectl("run", "debug", "--image=busybox:1.36", "--restart=Never", "--", "sleep", "30")
    cluster.advance(10)
    assert rows(kubectl("get", "pod", "debug"))[1][1:3] == ["1/1", "Running"]
    cluster.advance(25)
    assert rows(kubectl("get", "pod", "debug"))[1][1:3] == ["0/1", "Completed"]
    assert kubectl("logs", "debug") == "", "sleep printed nothing"
    finished = field(kubectl, "pod", "debug", "{.status.containerStatuses[0].state.terminated.reason}")
    assert finished == "Completed"


def test_sleep_infinity_and_tail_f_run_for_ever(cluster, kubectl):
    apply(kubectl, pod("forever", {"image": "busybox:1.36", "command": ["sh", "-c", "echo up; sleep infinity"]}),
          pod("follow", {"image": "busybox:1.36", "command": ["tail", "-f", "/dev/null"]}))
    cluster.advance(3600)
    for name in ("forever", "follow"):
        assert rows(kubectl("get", "pod", name))[1][1:4] == ["1/1", "Running", "0"]
    assert kubectl("logs", "forever") == "up\n"


def test_busybox_without_a_command_runs_sh_which_exits_at_once(cluster, kubectl):
    """Real busybox's CMD is ``sh``: with no stdin it exits 0, so a Deployment-style pod crash-loops; with
    ``stdin: true`` (``kubectl run -i``) the shell waits for input and keeps running."""
    apply(kubectl, pod("bare", {"image": "busybox:1.36"}),
          pod("interactive", {"image": "busybox:1.36", "stdin": True}))
    cluster.advance(30)
    assert rows(kubectl("get", "pod", "bare"))[1][2] in ("Completed", "CrashLoopBackOff")
    assert int(field(kubectl, "pod", "bare", "{.status.containerStatuses[0].restartCount}")) >= 1
    assert rows(kubectl("get", "pod", "interactive"))[1][1:3] == ["1/1", "Running"]


def test_a_command_the_simulator_cannot_play_keeps_running_silently(cluster, kubectl):
    apply(kubectl, pod("script", {"image": "python:3.12-slim", "command": ["python", "-c", "print(1)"]}),
          pod("loop", {"image": "busybox:1.36", "command": ["sh", "-c", "for i in 1 2; do echo $i; done"]}))
    cluster.advance(60)
    for name in ("script", "loop"):
        assert rows(kubectl("get", "pod", name))[1][1:4] == ["1/1", "Running", "0"]
        assert kubectl("logs", name) == ""


# ------------------------------------------------------------------------------------------------ servers
def nginx(name: str, path: str = "/", **extra: object) -> dict:
    return pod(name, {"image": "nginx:1.27", "ports": [{"containerPort": 80}],
                      "readinessProbe": {"httpGet": {"path": path, "port": 80}, "periodSeconds": 5}, **extra})


def test_nginx_becomes_ready_and_serves_its_welcome_page_to_other_pods(cluster, kubectl, toolbox):
    apply(kubectl, nginx("web"))
    cluster.advance(10)
    assert rows(kubectl("get", "pod", "web"))[1][1:3] == ["1/1", "Running"]
    ip = field(kubectl, "pod", "web", "{.status.podIP}")
    page = kubectl("exec", "toolbox", "--", "wget", "-qO-", f"http://{ip}")
    assert "<title>Welcome to nginx!</title>" in page
    missing = kubectl.run("exec", "toolbox", "--", "wget", "-qO-", f"http://{ip}/nope")
    assert missing.returncode == 1 and "wget: server returned error: HTTP/1.0 404 Not Found" in missing.stderr
    kubectl("expose", "pod", "web", "--port=8080", "--target-port=80")
    assert "Welcome to nginx!" in kubectl("exec", "toolbox", "--", "wget", "-qO-", "http://web:8080/")
    assert kubectl("logs", "web") == "", "a server that printed nothing has an empty log"
    assert "Welcome to nginx!" in kubectl("exec", "web", "--", "cat", "/usr/share/nginx/html/index.html")
    assert 'exec: "wget": executable file not found' in kubectl.run("exec", "web", "--", "wget", "x").stderr


def test_nginx_serves_a_configmap_mounted_over_its_document_root(cluster, kubectl, toolbox):
    site = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "site"},
            "data": {"index.html": "<h1>shop maintenance</h1>\n"}}
    mounted = nginx("site", volumeMounts=[{"name": "html", "mountPath": "/usr/share/nginx/html"}])
    mounted["spec"]["volumes"] = [{"name": "html", "configMap": {"name": "site"}}]
    apply(kubectl, site, mounted)
    cluster.advance(10)
    ip = field(kubectl, "pod", "site", "{.status.podIP}")
    assert kubectl("exec", "toolbox", "--", "wget", "-qO-", f"http://{ip}/") == "<h1>shop maintenance</h1>\n"


def test_an_http_probe_on_a_path_nginx_does_not_serve_never_passes(cluster, kubectl):
    apply(kubectl, nginx("typo", "/healthz"))
    cluster.advance(30)
    assert rows(kubectl("get", "pod", "typo"))[1][1:3] == ["0/1", "Running"]
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in kubectl("describe", "pod", "typo")


def test_a_probe_on_a_port_the_server_does_not_listen_on_fails(cluster, kubectl):
    apply(kubectl, pod("cache", {"image": "redis:7.4", "ports": [{"containerPort": 6379}],
                                 "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 5}}),
          pod("cache-wrong", {"image": "redis:7.4", "readinessProbe": {"tcpSocket": {"port": 6380}}}))
    cluster.advance(40)
    assert rows(kubectl("get", "pod", "cache"))[1][1:3] == ["1/1", "Running"]
    assert rows(kubectl("get", "pod", "cache-wrong"))[1][1:3] == ["0/1", "Running"]
    assert "connect: connection refused" in kubectl("describe", "pod", "cache-wrong")


def test_coredns_and_kube_proxy_become_ready_with_their_real_probes(cluster, kubectl):
    coredns = pod("coredns", {
        "image": "registry.k8s.io/coredns/coredns:v1.11.3", "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                  {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                  {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "initialDelaySeconds": 60},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}}})
    proxy = pod("kube-proxy", {"image": "registry.k8s.io/kube-proxy:v1.32.0",
                               "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                                           "--hostname-override=$(NODE_NAME)"],
                               "env": [{"name": "NODE_NAME",
                                        "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]})
    apply(kubectl, coredns, proxy)
    cluster.advance(120)
    assert rows(kubectl("get", "pod", "coredns"))[1][1:4] == ["1/1", "Running", "0"]
    assert rows(kubectl("get", "pod", "kube-proxy"))[1][1:4] == ["1/1", "Running", "0"]


# ------------------------------------------------------------------------------------------------ the catalog
def test_the_image_catalog_gives_entrypoint_cmd_env_and_tools():
    assert container_command({"image": "nginx:1.27"}, {}) == ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]
    assert container_command({"image": "redis:7.4", "args": ["--port", "7000"]}, {}) == \
        ["docker-entrypoint.sh", "--port", "7000"]
    assert container_command({"image": "busybox:1.36", "command": ["echo", "$(X)"]}, {"X": "1"}) == ["echo", "1"]
    assert container_command({"image": "web:1"}, {}) == [], "an image no catalog names has no known default"
    slim = image_config("python:3.12-slim")
    assert {"printenv", "whoami", "pwd", "getent", "sleep", "true"} <= (slim.bin or set())
    assert not {"ps", "wget", "curl", "nslookup"} & (slim.bin or set())
    assert dict(slim.env)["LANG"] == "C.UTF-8" and slim.shell == "gnu"
    assert image_config("alpine:3.20").shell == "busybox" and "getent" in (image_config("alpine:3.20").bin or set())
    assert "curl" in (image_config("curlimages/curl:8.11.0").bin or set())
    assert not {"wget", "curl"} & (image_config("nginx:1.27").bin or set())


def test_python_http_server_lists_and_serves_its_directory(cluster, kubectl, toolbox):
    files = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "files"}, "data": {"notes.txt": "hello\n"}}
    server = pod("files", {"image": "python:3.12-slim", "command": ["python3", "-m", "http.server", "9000"],
                           "workingDir": "/srv", "volumeMounts": [{"name": "files", "mountPath": "/srv"}],
                           "readinessProbe": {"tcpSocket": {"port": 9000}}})
    server["spec"]["volumes"] = [{"name": "files", "configMap": {"name": "files"}}]
    apply(kubectl, files, server)
    cluster.advance(15)
    assert rows(kubectl("get", "pod", "files"))[1][1:3] == ["1/1", "Running"]
    ip = field(kubectl, "pod", "files", "{.status.podIP}")
    listing = kubectl("exec", "toolbox", "--", "wget", "-qO-", f"http://{ip}:9000/")
    assert "<title>Directory listing for /</title>" in listing
    assert '<li><a href="notes.txt">notes.txt@</a></li>' in listing, "ConfigMap keys are links into ..data"
    assert kubectl("exec", "toolbox", "--", "wget", "-qO-", f"http://{ip}:9000/notes.txt") == "hello\n"
