"""``kubectl exec`` (the real kubectl 1.32, WebSocket v5) into simulated containers: what each command prints and
exits with, errors as kubectl reports them, and the network as a container's tools see it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import yaml
from execkit import NS, lab_kubectl, pod_named, run
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.execsh import Unsupported, parse

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=4) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return lab_kubectl(cluster, tmp_path_factory.mktemp("kube-cache"))


@pytest.fixture(scope="module")
def front(kubectl: Kubectl) -> str:
    return pod_named(kubectl, "front")


def test_env_is_the_environment_the_kubelet_built(kubectl, front):
    out = run(kubectl, "exec", front, "--", "env").stdout
    env = dict(line.split("=", 1) for line in out.splitlines())
    assert env["HOSTNAME"] == front and env["HOME"] == "/root" and env["ECHO_ADDR"] == "echo:8080"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["ECHO_SERVICE_PORT"] == "8080" and env["ECHO_SERVICE_HOST"].startswith("10.96.")
    assert env["PATH"].startswith("/usr/local/bin:")
    assert run(kubectl, "exec", front, "--", "printenv", "ECHO_ADDR").stdout == "echo:8080\n"


def test_cat_of_a_mounted_configmap_key_and_the_atomic_writer_layout(kubectl, front):
    assert run(kubectl, "exec", front, "--", "cat", "/etc/lab/greeting").stdout == "hello from the lab\n"
    listing = run(kubectl, "exec", front, "--", "ls", "-la", "/etc/lab").stdout.splitlines()
    assert listing[0] == "total 12" and listing[1].startswith("drwxrwxrwx ") and listing[1].endswith(" .")
    assert any(line.endswith(" ..data -> " + line.split(" -> ")[-1]) and "..20" in line for line in listing)
    assert any(line.startswith("lrwxrwxrwx ") and line.endswith(" greeting -> ..data/greeting") for line in listing)
    missing = run(kubectl, "exec", front, "--", "cat", "/etc/lab/nope")
    assert missing.returncode == 1 and "cat: /etc/lab/nope: No such file or directory" in missing.stderr


def test_ls_of_the_service_account_token_volume(kubectl, front):
    path = "/var/run/secrets/kubernetes.io/serviceaccount"
    assert run(kubectl, "exec", front, "--", "ls", path).stdout == "ca.crt\nnamespace\ntoken\n"
    assert run(kubectl, "exec", front, "--", "cat", f"{path}/namespace").stdout == NS
    token = run(kubectl, "exec", front, "--", "cat", f"{path}/token").stdout
    assert token.count(".") == 2 and token.startswith("eyJ")
    assert run(kubectl, "exec", front, "--", "cat", f"{path}/ca.crt").stdout.startswith("-----BEGIN CERTIFICATE-----")


def test_id_hostname_whoami_pwd_and_resolv_conf(kubectl, front):
    assert run(kubectl, "exec", front, "--", "id").stdout == "uid=0(root) gid=0(root) groups=0(root)\n"
    assert run(kubectl, "exec", front, "--", "hostname").stdout == f"{front}\n"
    assert run(kubectl, "exec", front, "--", "whoami").stdout == "root\n"
    assert run(kubectl, "exec", front, "--", "pwd").stdout == "/\n"
    resolv = run(kubectl, "exec", front, "--", "cat", "/etc/resolv.conf").stdout
    assert resolv == f"search {NS}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\n" \
                     "options ndots:5\n"
    assert run(kubectl, "exec", "toolbox", "--", "id").stdout == "uid=0(root) gid=0(root) groups=0(root),10(wheel)\n"


def test_getent_hosts_of_a_service(kubectl, front):
    ip = kubectl("get", "service", "-n", NS, "echo", "-o", "jsonpath={.spec.clusterIP}")
    hosts = run(kubectl, "exec", front, "--", "getent", "hosts", "echo").stdout
    assert hosts == f"{ip:<15} echo.{NS}.svc.cluster.local\n"
    gone = run(kubectl, "exec", front, "--", "getent", "hosts", "nowhere")
    assert (gone.returncode, gone.stdout) == (2, "")


def test_nslookup_from_busybox_and_nxdomain(kubectl):
    ip = kubectl("get", "service", "-n", NS, "echo", "-o", "jsonpath={.spec.clusterIP}")
    out = run(kubectl, "exec", "toolbox", "--", "nslookup", "echo").stdout
    assert out == f"Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\techo.{NS}.svc.cluster.local\n" \
                  f"Address: {ip}\n\n"
    gone = run(kubectl, "exec", "toolbox", "--", "nslookup", "nowhere")
    assert gone.returncode == 1 and "** server can't find nowhere: NXDOMAIN" in gone.stdout


def test_wget_and_curl_are_answered_by_the_service_programs(kubectl):
    answer = json.loads(run(kubectl, "exec", "toolbox", "--", "wget", "-qO-", "http://echo:8080/hello").stdout)
    assert answer == {"msg": "hi", "service": "echo"}
    page = run(kubectl, "exec", "curler", "--", "curl", "-s", f"http://front.{NS}.svc.cluster.local:8080/page")
    assert page.returncode == 0 and json.loads(page.stdout)["calls"]["echo"] == {"msg": "hi", "service": "echo"}
    ready = run(kubectl, "exec", "curler", "--", "curl", "-s", "http://front:8080/ready")
    assert ready.stdout == "ready"
    pod_ip = kubectl("get", "pods", "-n", NS, "-l", "app=echo", "-o", "jsonpath={.items[0].status.podIP}")
    cluster_ip = kubectl("get", "service", "-n", NS, "echo", "-o", "jsonpath={.spec.clusterIP}")
    for address in (pod_ip, cluster_ip):
        assert run(kubectl, "exec", "toolbox", "--", "wget", "-qO-", f"http://{address}:8080/healthz").stdout == "alive"
    missing = run(kubectl, "exec", "toolbox", "--", "wget", "-qO-", "http://echo:8080/nothing")
    assert missing.returncode == 1 and "wget: server returned error: HTTP/1.0 404 Not Found" in missing.stderr


def test_connection_refused_as_busybox_and_curl_word_it(kubectl):
    ip = kubectl("get", "service", "-n", NS, "nobody", "-o", "jsonpath={.spec.clusterIP}")
    wget = run(kubectl, "exec", "toolbox", "--", "wget", "-qO-", "http://nobody/")
    assert wget.returncode == 1 and f"wget: can't connect to remote host ({ip}): Connection refused" in wget.stderr
    curl = run(kubectl, "exec", "curler", "--", "curl", "-sS", "http://nobody/")
    assert curl.returncode == 7 and "curl: (7) Failed to connect to nobody port 80" in curl.stderr
    unknown = run(kubectl, "exec", "curler", "--", "curl", "-sS", "http://nowhere/")
    assert unknown.returncode == 6 and "curl: (6) Could not resolve host: nowhere" in unknown.stderr


def test_sh_c_with_and_or_pipes_and_variables(kubectl, front):
    out = run(kubectl, "exec", front, "--", "sh", "-c", "env | grep ECHO_ADDR && echo found; false || echo $HOME")
    assert (out.returncode, out.stdout) == (0, "ECHO_ADDR=echo:8080\nfound\n/root\n")
    counted = run(kubectl, "exec", front, "--", "bash", "-c", "ls /etc/lab | wc -l")
    assert counted.stdout == "2\n"
    moved = run(kubectl, "exec", front, "--", "sh", "-c", "cd /etc/lab && ls && pwd; export A=1; env | grep ^A=")
    assert moved.stdout == "greeting\nlevel\n/etc/lab\nA=1\n"
    missing = run(kubectl, "exec", front, "--", "sh", "-c", "nosuch --flag")
    assert missing.returncode == 127 and "sh: 1: nosuch: not found" in missing.stderr


def test_stdin_reaches_the_command(kubectl, front):
    out = run(kubectl, "exec", "-i", front, "--", "grep", "b", stdin="a\nb\nc\nbb\n")
    assert out.stdout == "b\nbb\n"


def test_an_executable_the_image_lacks_is_containerds_error(kubectl, front):
    result = run(kubectl, "exec", front, "--", "wget", "-qO-", "http://echo:8080/hello")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Internal error occurred: Internal error occurred: error executing "
                                    "command in container: failed to exec in container: failed to start exec")
    assert 'exec: "wget": executable file not found in $PATH: unknown' in result.stderr
    ps = run(kubectl, "exec", front, "--", "ps")
    assert ps.returncode == 1 and 'exec: "ps": executable file not found in $PATH' in ps.stderr


def test_ps_in_busybox_shows_the_command_as_pid_1(kubectl):
    lines = run(kubectl, "exec", "toolbox", "--", "ps").stdout.splitlines()
    assert lines[0] == "PID   USER     TIME  COMMAND" and lines[1] == "    1 root      0:00 sleep 3600"


def test_non_zero_exit_codes_are_propagated(kubectl, front):
    result = run(kubectl, "exec", front, "--", "sh", "-c", "exit 3")
    assert result.returncode == 3 and "command terminated with exit code 3" in result.stderr
    assert run(kubectl, "exec", front, "--", "cat", "/nope").returncode == 1


def test_missing_container_pod_and_command(kubectl, front):
    result = run(kubectl, "exec", front, "-c", "nope", "--", "env")
    assert result.returncode == 1
    assert f"Error from server (BadRequest): container nope is not valid for pod {front}" in result.stderr
    gone = run(kubectl, "exec", "nosuchpod", "--", "env")
    assert gone.returncode == 1 and 'Error from server (NotFound): pods "nosuchpod" not found' in gone.stderr


def test_a_container_that_is_not_running(kubectl, cluster):
    twins = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "twins", "namespace": NS}, "spec": {"containers": [
        {"name": "ok", "image": "busybox:1.36", "command": ["sleep", "3600"]},
        {"name": "crasher", "image": "python:3.12-slim", "command": ["python", "/nope.py"]}]}}
    done = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "done", "namespace": NS}, "spec": {
        "restartPolicy": "Never", "containers": [{"name": "c", "image": "python:3.12-slim",
                                                  "command": ["python", "/nope.py"]}]}}
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([twins, done]))
    cluster.advance(30)
    result = run(kubectl, "exec", "twins", "-c", "crasher", "--", "env")
    assert result.returncode == 1
    assert result.stderr == 'error: Internal error occurred: unable to upgrade connection: container not found ' \
                            '("crasher")\n'
    assert run(kubectl, "exec", "twins", "-c", "ok", "--", "hostname").stdout == "twins\n"
    finished = run(kubectl, "exec", "done", "--", "env")
    assert finished.returncode == 1
    assert "cannot exec into a container in a completed pod; current phase is Failed" in finished.stderr


def test_the_shell_reader_refuses_what_it_cannot_read():
    assert [len(p.commands) for p in parse("a | b | c && d")] == [3, 1]
    with pytest.raises(Unsupported):
        parse("echo $(id)")
    with pytest.raises(Unsupported):
        parse("for x in a; do echo; done > out")
