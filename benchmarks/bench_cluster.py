"""Embedded cluster performance: server start, snapshot reset, settling a new scenario, kubectl latency against its
process floor, and Python-client throughput; plus the server-per-cluster question (one shared server vs one server
each).

Run: ``python benchmarks/bench_cluster.py``. Prints numbers and ratios measured in this run; asserts nothing.
Targets (issue 3): reset ≤ 20 ms median, ``kubectl get pods`` ≤ 1.5× ``kubectl version --client``; (issue 4, the
cluster's share of ≥ 300 oracle episodes/min) a new seed of SRE-1 settles in ≤ 250 ms.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from kubernetes import client

import opsgym  # noqa: F401  (registers the opsgym/* envs)
from opsgym.cluster.kubectl import GO_RUNTIME
from opsgym.cluster.sim import SimCluster, SimServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "cluster" / "sim"))
from simkit import app_objects


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1e3:7.2f} ms  (min {min(samples) * 1e3:.2f}, n={len(samples)})"


def server_start() -> None:
    servers: list[SimServer] = []

    def start() -> None:
        server = SimServer()
        server.start()
        servers.append(server)

    print(f"server start (new aiohttp server + thread):   {ms(timed(start, 10))}")
    for server in servers:
        server.stop()
    clusters: list[SimCluster] = []

    def add() -> None:
        cluster = SimCluster()
        cluster.start()
        clusters.append(cluster)

    shared = timed(add, 20)
    print(f"cluster start on the shared server:           {ms(shared)}")
    threads = threading.active_count()
    for cluster in clusters:
        cluster.close()
    own: list[SimCluster] = []

    def add_own() -> None:
        cluster = SimCluster(server=SimServer())
        cluster.start()
        own.append(cluster)

    private = timed(add_own, 20)
    print(f"cluster start with its own server:            {ms(private)}")
    print(f"threads for 20 clusters: shared server {threads}, one server each {threading.active_count()}")
    for cluster in own:
        cluster.close()
        cluster._server.stop()


def reset() -> None:
    with SimCluster() as cluster:
        start = time.perf_counter()
        cluster.load("shop", app_objects)
        print(f"first load of the shop (render + settle):     {(time.perf_counter() - start) * 1e3:7.2f} ms")

        samples = []
        for _ in range(50):
            cluster.advance(120)
            begin = time.perf_counter()
            cluster.load("shop", app_objects)
            samples.append(time.perf_counter() - begin)
        print(f"snapshot reset (load of a cached scenario):   {ms(samples)}   target <= 20 ms")


def breadth_objects() -> list[dict[str, Any]]:
    """The test app plus a StatefulSet (the db, with a volume claim template), a CronJob and an HPA on the api."""
    objects = app_objects()
    db = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "db")
    spec = db["spec"]
    spec["template"]["spec"]["containers"][0]["volumeMounts"].append({"name": "data", "mountPath": "/data"})
    stateful = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db-sts", "namespace": "shop"},
                "spec": {"serviceName": "db", "replicas": 2, "selector": spec["selector"],
                         "template": spec["template"],
                         "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                             "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "shop"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "report", "image": "busybox:1.36", "command": ["date"]}]}}}}}}
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "api", "namespace": "shop"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "api"},
                    "minReplicas": 1, "maxReplicas": 3,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": 60}}}]}}
    return [o for o in objects if o is not db] + [stateful, cron, hpa]


def breadth() -> None:
    """Settle (CPU time) of a new seed of the test app alone and of the app with a StatefulSet, CronJob and HPA."""

    def first_load(objects: Callable[[], list[dict[str, Any]]], seed: int) -> float:
        with SimCluster(seed=seed) as cluster:
            start = time.process_time()
            cluster.load("app", objects)
            cluster.advance(600)
            return time.process_time() - start

    plain, wide = [], []
    for seed in range(10):  # alternated, so both see the same machine
        plain.append(first_load(app_objects, seed))
        wide.append(first_load(breadth_objects, seed))
    ratio = statistics.median(wide) / statistics.median(plain)
    print(f"new-seed settle + 600 s, app alone (CPU):      {ms(plain)}")
    print(f"  ... with a StatefulSet, CronJob and HPA:     {ms(wide)}   ({ratio:.2f}x; target <= 60 ms)")


def settle() -> None:
    """Virtual time on a crash-looping cluster, idle reconciles skipped (the default) and not (the baseline)."""

    def ten_minutes(eager: bool) -> float:
        with SimCluster() as cluster:
            cluster.load("shop", lambda: app_objects(mode="broken"))
            cluster.engine.skip_idle = not eager
            start = time.perf_counter()
            for _ in range(120):
                cluster.advance(5)
            return time.perf_counter() - start

    lazy, eager = ten_minutes(False), ten_minutes(True)
    print(f"advance 600 virtual s in 5 s steps (crash loop): {lazy * 1e3:7.2f} ms   "
          f"every pass run: {eager * 1e3:.2f} ms ({eager / lazy:.1f}x)")

    env = gym.make("opsgym/SRE-1")
    env.reset(seed=0)  # builds the backend and the kubectl discovery cache
    samples = []
    for seed in range(1000, 1008):
        samples += timed(lambda seed=seed: env.reset(seed=seed), 1)
    print(f"new-seed reset of opsgym/SRE-1 (settles 600 s):  {ms(samples)}   target <= 250 ms")
    env.close()


def kubectl_latency() -> None:
    if shutil.which("kubectl") is None:
        print("kubectl: not installed, skipped")
        return
    with SimCluster() as cluster, tempfile.TemporaryDirectory() as cache:
        cluster.load("shop", app_objects)
        cluster.advance(60)
        env = {**os.environ, **GO_RUNTIME, "KUBECONFIG": str(cluster.kubeconfig), "KUBECACHEDIR": cache}

        def run(*args: str) -> Callable[[], None]:
            return lambda: subprocess.run(["kubectl", *args], env=env, capture_output=True, check=True)

        run("get", "pods", "-n", "shop")()  # fills kubectl's discovery cache, as any session's first call does
        floor, raw, get, wide, create, top, execs = [], [], [], [], [], [], []
        pod = subprocess.run(["kubectl", "get", "pods", "-n", "shop", "-l", "app=web", "-o",
                              "jsonpath={.items[0].metadata.name}"], env=env, capture_output=True, text=True).stdout
        for i in range(21):  # interleaved, so machine load affects all alike
            floor += timed(run("version", "--client"), 1)
            raw += timed(run("get", "--raw", "/api/v1/namespaces/shop/pods"), 1)
            get += timed(run("get", "pods", "-n", "shop"), 1)
            wide += timed(run("get", "pods", "-A", "-o", "wide"), 1)
            create += timed(run("create", "configmap", f"bench-{i}", "-n", "shop", "--from-literal=k=v"), 1)
            top += timed(run("top", "pods", "-n", "shop"), 1)
            execs += timed(run("exec", "-n", "shop", pod, "--", "env"), 1)
        print(f"kubectl version --client (process floor):     {ms(floor)}")
        print(f"kubectl get --raw pods (one request):         {ms(raw)}")
        print(f"kubectl get pods -n shop:                     {ms(get)}")
        print(f"kubectl get pods -A -o wide:                  {ms(wide)}")
        ratio = statistics.median(get) / statistics.median(floor)
        print(f"get pods / floor ratio:                       {ratio:7.2f}x   target <= 1.5x")
        print(f"kubectl create configmap (protobuf body):     {ms(create)}")
        ratio = statistics.median(create) / statistics.median(floor)
        print(f"create configmap / floor ratio:               {ratio:7.2f}x   target <= 1.2x")
        print(f"kubectl top pods -n shop (metrics API):       {ms(top)}")
        ratio = statistics.median(top) / statistics.median(floor)
        print(f"top pods / floor ratio:                       {ratio:7.2f}x")
        print(f"kubectl exec -- env (WebSocket v5):           {ms(execs)}")
        ratio = statistics.median(execs) / statistics.median(floor)
        print(f"exec -- env / floor ratio:                    {ratio:7.2f}x   target <= 1.2x")


def client_throughput() -> None:
    with SimCluster() as cluster:
        cluster.load("shop", app_objects)
        core = client.CoreV1Api(cluster.api_client())
        for label, call in (("read configmap", lambda: core.read_namespaced_config_map("api-config", "shop")),
                            ("list pods", lambda: core.list_namespaced_pod("shop")),
                            ("patch configmap", lambda: core.patch_namespaced_config_map(
                                "api-config", "shop", {"metadata": {"annotations": {"n": str(time.time())}}}))):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < 1.5:
                call()
                count += 1
            print(f"python client {label + ':':<17}             {count / (time.perf_counter() - start):7.0f} calls/s")


if __name__ == "__main__":
    print(f"# embedded cluster benchmark ({os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f})")
    server_start()
    reset()
    breadth()
    settle()
    kubectl_latency()
    client_throughput()
