"""The fidelity table: kubectl invocations with the exit code and the key output lines a real Kubernetes 1.32 cluster
(kind, kubectl 1.32) gives for them, run with the real kubectl against the embedded cluster.

Two halves. Per served kind, what discovery facts imply (``tests/k8s/test_kinds.py`` holds those facts as
``kubectl api-resources`` prints them on a real cluster): the plural, the short names and the qualified name resolve, a
missing object is a NotFound naming ``<plural>.<group>``, and ``explain`` documents it. Then scenes an on-call
engineer plays, each on a fresh cluster, one row per command, in order: the exit code and the lines kubectl prints.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl, app_objects

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.kinds import SERVED

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

# (kind, plural, short names, group, namespaced): `kubectl api-resources` on a real 1.32 cluster
DISCOVERY = [
    ("Namespace", "namespaces", ("ns",), "", False),
    ("Node", "nodes", ("no",), "", False),
    ("Pod", "pods", ("po",), "", True),
    ("Service", "services", ("svc",), "", True),
    ("Endpoints", "endpoints", ("ep",), "", True),
    ("ConfigMap", "configmaps", ("cm",), "", True),
    ("Secret", "secrets", (), "", True),
    ("ServiceAccount", "serviceaccounts", ("sa",), "", True),
    ("Event", "events", ("ev",), "", True),
    ("PersistentVolumeClaim", "persistentvolumeclaims", ("pvc",), "", True),
    ("PersistentVolume", "persistentvolumes", ("pv",), "", False),
    ("ResourceQuota", "resourcequotas", ("quota",), "", True),
    ("LimitRange", "limitranges", ("limits",), "", True),
    ("Deployment", "deployments", ("deploy",), "apps", True),
    ("ReplicaSet", "replicasets", ("rs",), "apps", True),
    ("StatefulSet", "statefulsets", ("sts",), "apps", True),
    ("DaemonSet", "daemonsets", ("ds",), "apps", True),
    ("Job", "jobs", (), "batch", True),
    ("CronJob", "cronjobs", ("cj",), "batch", True),
    ("HorizontalPodAutoscaler", "horizontalpodautoscalers", ("hpa",), "autoscaling", True),
    ("EndpointSlice", "endpointslices", (), "discovery.k8s.io", True),
    ("Ingress", "ingresses", ("ing",), "networking.k8s.io", True),
    ("IngressClass", "ingressclasses", (), "networking.k8s.io", False),
    ("NetworkPolicy", "networkpolicies", ("netpol",), "networking.k8s.io", True),
    ("StorageClass", "storageclasses", ("sc",), "storage.k8s.io", False),
    ("PodDisruptionBudget", "poddisruptionbudgets", ("pdb",), "policy", True),
    ("PriorityClass", "priorityclasses", ("pc",), "scheduling.k8s.io", False),
    ("Role", "roles", (), "rbac.authorization.k8s.io", True),
    ("RoleBinding", "rolebindings", (), "rbac.authorization.k8s.io", True),
    ("ClusterRole", "clusterroles", (), "rbac.authorization.k8s.io", False),
    ("ClusterRoleBinding", "clusterrolebindings", (), "rbac.authorization.k8s.io", False),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    with SimCluster(seed=11) as sim:
        yield Kubectl(sim.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


def test_the_table_covers_every_served_kind():
    assert {row[0] for row in DISCOVERY} == set(SERVED)


def _kind_rows() -> list[tuple[str, list[str], int, str]]:
    rows = []
    for kind, plural, shorts, group, _ in DISCOVERY:
        qualified = f"{plural}.{group}" if group else plural
        rows.append((kind, ["get", plural], 0, ""))
        rows.append((kind, ["get", qualified], 0, ""))
        rows.extend((kind, ["get", short], 0, "") for short in shorts)
        rows.append((kind, ["get", plural, "nope"], 1, f'Error from server (NotFound): {qualified} "nope" not found'))
        rows.append((kind, ["explain", plural], 0, f"KIND:       {kind}\n"))
    return rows


@pytest.mark.parametrize("kind, args, code, line", _kind_rows(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_kind_resolves_and_fails_like_a_real_cluster(shared, kind, args, code, line):
    result = shared.run(*args)
    assert result.returncode == code, result.stderr
    assert line in result.stdout + result.stderr


# A row: (kubectl arguments, exit code, lines that must appear: plain text, or a regex when it starts with "re:").
Row = tuple[list[str], int, list[str]]
NS = "fid"
DEPLOY_YAML = yaml.safe_dump({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                                   "ports": [{"containerPort": 80}]}]}}}})
CLAIM_YAML = yaml.safe_dump({
    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})

SCENES: dict[str, list[Row]] = {
    "server": [
        (["version"], 0, ["re:Server Version: v1\\.32\\."]),
        (["api-versions"], 0, ["apps/v1", "batch/v1", "rbac.authorization.k8s.io/v1", "metrics.k8s.io/v1beta1"]),
        (["cluster-info"], 0, ["Kubernetes control plane is running at https://127.0.0.1:"]),
        (["get", "--raw", "/healthz"], 0, ["ok"]),
        (["get", "--raw", "/readyz"], 0, ["ok"]),
        (["get", "--raw", "/version"], 0, ['"gitVersion"']),
        (["api-resources", "--namespaced=false", "-o", "name"], 0, ["nodes", "storageclasses.storage.k8s.io"]),
        (["get", "frobnicators"], 1, ['error: the server doesn\'t have a resource type "frobnicators"']),
        (["get", "pods", "-n", "nowhere"], 0, ["No resources found in nowhere namespace."]),
        (["get", "nodes"], 0, ["re:NAME\\s+STATUS\\s+ROLES\\s+AGE\\s+VERSION", "re:node-1\\s+Ready\\s+<none>"]),
        (["get", "ns"], 0, ["re:NAME\\s+STATUS\\s+AGE", "re:kube-system\\s+Active"]),
        (["get", "sc"], 0, ["re:standard \\(default\\)\\s+rancher.io/local-path\\s+Delete\\s+WaitForFirstConsumer"]),
        (["get", "pc"], 0, ["re:system-node-critical\\s+2000001000"]),
        (["get", "clusterroles", "cluster-admin"], 0, ["cluster-admin"]),
        (["auth", "whoami"], 0, ["kubernetes-admin"]),
        (["auth", "can-i", "delete", "nodes"], 0, ["yes"]),
        (["explain", "pod.spec.nope"], 1, ['field "nope" does not exist']),
        (["describe", "pod", "nope"], 1, ['Error from server (NotFound): pods "nope" not found']),
        (["logs", "nope"], 1, ['error: error from server (NotFound): pods "nope" not found in namespace "default"']),
        (["delete", "pod", "nope"], 1, ['Error from server (NotFound): pods "nope" not found']),
        (["scale", "deployment", "nope", "--replicas=2"], 1,
         ['error: no objects passed to scale deployments.apps "nope" not found']),
        (["create", "namespace", "Bad_Name"], 1, ['The Namespace "Bad_Name" is invalid']),
        (["edit", "pod", "nope"], 1, ['Error from server (NotFound): pods "nope" not found']),
    ],
    "configmaps": [
        (["create", "namespace", NS], 0, [f"namespace/{NS} created"]),
        (["create", "namespace", NS], 1, [f'Error from server (AlreadyExists): namespaces "{NS}" already exists']),
        (["create", "configmap", "c1", "-n", NS, "--from-literal=a=b"], 0, ["configmap/c1 created"]),
        (["create", "configmap", "c1", "-n", NS, "--from-literal=a=b"], 1,
         ['error: failed to create configmap: configmaps "c1" already exists']),
        (["get", "cm", "c1", "-n", NS, "-o", "jsonpath={.data.a}"], 0, ["b"]),
        (["get", "cm", "-n", NS], 0, ["re:NAME\\s+DATA\\s+AGE", "re:c1\\s+1\\s+"]),
        (["label", "cm", "c1", "-n", NS, "team=ops"], 0, ["configmap/c1 labeled"]),
        (["annotate", "cm", "c1", "-n", NS, "note=hi"], 0, ["configmap/c1 annotated"]),
        (["patch", "cm", "c1", "-n", NS, "-p", '{"data":{"a":"c"}}'], 0, ["configmap/c1 patched"]),
        (["patch", "cm", "c1", "-n", NS, "-p", '{"data":{"a":"c"}}'], 0, ["configmap/c1 patched (no change)"]),
        (["get", "cm", "-n", NS, "-l", "team=ops", "-o", "name"], 0, ["configmap/c1"]),
        (["create", "secret", "generic", "s1", "-n", NS, "--from-literal=password=hunter2"], 0,
         ["secret/s1 created"]),
        (["get", "secret", "s1", "-n", NS, "-o", "jsonpath={.data.password}"], 0, ["aHVudGVyMg=="]),
        (["get", "secrets", "-n", NS], 0, ["re:s1\\s+Opaque\\s+1"]),
        (["delete", "cm", "c1", "-n", NS], 0, ['configmap "c1" deleted']),
        (["get", "cm", "c1", "-n", NS], 1, ['Error from server (NotFound): configmaps "c1" not found']),
    ],
    "deployments": [
        (["create", "namespace", NS], 0, [f"namespace/{NS} created"]),
        (["apply", "-f", "-"], 0, ["deployment.apps/web created"]),
        (["rollout", "status", "deployment/web", "-n", NS, "--timeout=120s"], 0,
         ['deployment "web" successfully rolled out']),
        (["get", "deploy", "web", "-n", NS], 0, ["re:NAME\\s+READY\\s+UP-TO-DATE\\s+AVAILABLE\\s+AGE",
                                                 "re:web\\s+2/2\\s+2\\s+2"]),
        (["apply", "-f", "-"], 0, ["deployment.apps/web unchanged"]),
        (["scale", "deployment", "web", "-n", NS, "--replicas=3"], 0, ["deployment.apps/web scaled"]),
        (["set", "image", "deployment/web", "-n", NS, "web=nginx:1.26"], 0, ["deployment.apps/web image updated"]),
        (["rollout", "status", "deployment/web", "-n", NS, "--timeout=120s"], 0,
         ['deployment "web" successfully rolled out']),
        (["rollout", "history", "deployment/web", "-n", NS], 0, ["re:REVISION\\s+CHANGE-CAUSE", "re:^2\\s"]),
        (["rollout", "undo", "deployment/web", "-n", NS], 0, ["deployment.apps/web rolled back"]),
        (["rollout", "restart", "deployment/web", "-n", NS], 0, ["deployment.apps/web restarted"]),
        (["rollout", "pause", "deployment/web", "-n", NS], 0, ["deployment.apps/web paused"]),
        (["rollout", "resume", "deployment/web", "-n", NS], 0, ["deployment.apps/web resumed"]),
        (["expose", "deployment", "web", "-n", NS, "--port=80"], 0, ["service/web exposed"]),
        (["get", "svc", "web", "-n", NS], 0, ["re:web\\s+ClusterIP\\s+10\\.96\\.\\d+\\.\\d+\\s+<none>\\s+80/TCP"]),
        (["wait", "--for=condition=Available", "deployment/web", "-n", NS, "--timeout=60s"], 0,
         ["deployment.apps/web condition met"]),
        (["autoscale", "deployment", "web", "-n", NS, "--min=1", "--max=4", "--cpu-percent=60"], 0,
         ["horizontalpodautoscaler.autoscaling/web autoscaled"]),
        (["get", "hpa", "-n", NS], 0, ["re:NAME\\s+REFERENCE\\s+TARGETS\\s+MINPODS\\s+MAXPODS\\s+REPLICAS\\s+AGE",
                                       "Deployment/web"]),
        (["get", "rs", "-n", NS], 0, ["re:NAME\\s+DESIRED\\s+CURRENT\\s+READY\\s+AGE"]),
        (["delete", "deployment", "web", "-n", NS], 0, ['deployment.apps "web" deleted']),
    ],
    "access": [
        (["create", "namespace", NS], 0, [f"namespace/{NS} created"]),
        (["create", "serviceaccount", "bot", "-n", NS], 0, ["serviceaccount/bot created"]),
        (["create", "role", "reader", "-n", NS, "--verb=get,list", "--resource=pods"], 0,
         ["role.rbac.authorization.k8s.io/reader created"]),
        (["create", "rolebinding", "bot-reads", "-n", NS, "--role=reader", f"--serviceaccount={NS}:bot"], 0,
         ["rolebinding.rbac.authorization.k8s.io/bot-reads created"]),
        (["auth", "can-i", "list", "pods", "-n", NS, f"--as=system:serviceaccount:{NS}:bot"], 0, ["yes"]),
        (["auth", "can-i", "delete", "pods", "-n", NS, f"--as=system:serviceaccount:{NS}:bot"], 1, ["no"]),
        (["auth", "can-i", "list", "secrets", "-n", NS, f"--as=system:serviceaccount:{NS}:bot"], 1, ["no"]),
        (["create", "clusterrole", "node-reader", "--verb=get,list", "--resource=nodes"], 0,
         ["clusterrole.rbac.authorization.k8s.io/node-reader created"]),
        (["create", "clusterrolebinding", "alice-nodes", "--clusterrole=node-reader", "--user=alice"], 0,
         ["clusterrolebinding.rbac.authorization.k8s.io/alice-nodes created"]),
        (["auth", "can-i", "list", "nodes", "--as=alice"], 0, ["yes"]),
        (["auth", "can-i", "delete", "nodes", "--as=alice"], 1, ["no"]),
        (["get", "rolebindings", "-n", NS], 0, ["re:bot-reads\\s+Role/reader"]),
        (["create", "quota", "q", "-n", NS, "--hard=pods=1"], 0, ["resourcequota/q created"]),
        (["run", "one", "-n", NS, "--image=nginx:1.27"], 0, ["pod/one created"]),
        (["run", "two", "-n", NS, "--image=nginx:1.27"], 1,
         ['Error from server (Forbidden): pods "two" is forbidden: exceeded quota: q, requested: pods=1, '
          "used: pods=1, limited: pods=1"]),
        (["get", "quota", "-n", NS], 0, ["re:q\\s+.*pods: 1/1"]),
        (["create", "priorityclass", "high", "--value=1000"], 0,
         ["priorityclass.scheduling.k8s.io/high created"]),
        (["create", "poddisruptionbudget", "web", "-n", NS, "--selector=app=web", "--min-available=1"], 0,
         ["poddisruptionbudget.policy/web created"]),
        (["get", "pdb", "-n", NS], 0, ["re:NAME\\s+MIN AVAILABLE\\s+MAX UNAVAILABLE\\s+ALLOWED DISRUPTIONS\\s+AGE"]),
    ],
    "batch": [
        (["create", "namespace", NS], 0, [f"namespace/{NS} created"]),
        (["create", "job", "hello", "-n", NS, "--image=busybox:1.36", "--", "echo", "hi"], 0,
         ["job.batch/hello created"]),
        (["wait", "--for=condition=Complete", "job/hello", "-n", NS, "--timeout=60s"], 0,
         ["job.batch/hello condition met"]),
        (["logs", "job/hello", "-n", NS], 0, ["hi"]),
        (["get", "jobs", "-n", NS], 0, ["re:NAME\\s+STATUS\\s+COMPLETIONS\\s+DURATION\\s+AGE",
                                        "re:hello\\s+Complete\\s+1/1"]),
        (["create", "cronjob", "tick", "-n", NS, "--image=busybox:1.36", "--schedule=*/5 * * * *", "--", "date"],
         0, ["cronjob.batch/tick created"]),
        (["get", "cj", "-n", NS], 0, ["re:NAME\\s+SCHEDULE\\s+TIMEZONE\\s+SUSPEND\\s+ACTIVE\\s+LAST SCHEDULE\\s+AGE",
                                      "re:tick\\s+\\*/5 \\* \\* \\* \\*\\s+<none>\\s+False"]),
        (["create", "job", "tick-now", "-n", NS, "--from=cronjob/tick"], 0, ["job.batch/tick-now created"]),
        (["delete", "cronjob", "tick", "-n", NS], 0, ['cronjob.batch "tick" deleted']),
        (["apply", "-f", "-"], 0, ["persistentvolumeclaim/data created"]),
        (["get", "pvc", "data", "-n", NS], 0, ["re:data\\s+Pending\\s+standard"]),
        (["describe", "pvc", "data", "-n", NS], 0, ["WaitForFirstConsumer",
                                                     "waiting for first consumer to be created before binding"]),
    ],
    "nodes": [
        (["cordon", "node-1"], 0, ["node/node-1 cordoned"]),
        (["get", "node", "node-1"], 0, ["re:node-1\\s+Ready,SchedulingDisabled"]),
        (["uncordon", "node-1"], 0, ["node/node-1 uncordoned"]),
        (["taint", "nodes", "node-2", "dedicated=db:NoSchedule"], 0, ["node/node-2 tainted"]),
        (["describe", "node", "node-2"], 0, ["re:Taints:\\s+dedicated=db:NoSchedule"]),
        (["taint", "nodes", "node-2", "dedicated=db:NoSchedule-"], 0, ["node/node-2 untainted"]),
        (["label", "node", "node-1", "disk=ssd"], 0, ["node/node-1 labeled"]),
        (["get", "nodes", "-l", "disk=ssd", "-o", "name"], 0, ["node/node-1"]),
        (["drain", "node-2", "--ignore-daemonsets"], 0, ["node/node-2 cordoned", "node/node-2 drained"]),
        (["top", "nodes"], 0, ["re:NAME\\s+CPU\\(cores\\)\\s+CPU(%)?\\s*\\S*\\s+MEMORY\\(bytes\\)"]),
    ],
    "workload": [
        (["get", "pods", "-n", "shop"], 0, ["re:NAME\\s+READY\\s+STATUS\\s+RESTARTS\\s+AGE", "CrashLoopBackOff"]),
        (["logs", "deployment/api", "-n", "shop"], 0, ["invalid MODE 'turbo': expected fast or safe"]),
        (["logs", "deployment/db", "-n", "shop"], 0, ["db accepting connections"]),
        (["describe", "deployment", "api", "-n", "shop"], 0, ["re:Replicas:\\s+1 desired"]),
        (["get", "endpoints", "db", "-n", "shop"], 0, ["re:db\\s+10\\.244\\.\\d+\\.\\d+:5432"]),
        (["exec", "deployment/db", "-n", "shop", "--", "hostname"], 0, ["re:^db-"]),
        (["exec", "deployment/db", "-n", "shop", "--", "cat", "/etc/resolv.conf"], 0,
         ["nameserver 10.96.0.10", "search shop.svc.cluster.local svc.cluster.local cluster.local"]),
        (["exec", "deployment/db", "-n", "shop", "--", "env"], 0, ["KUBERNETES_SERVICE_HOST=10.96.0.1"]),
        (["exec", "deployment/db", "-n", "shop", "--", "frobnicate"], 1,
         ['OCI runtime exec failed: exec failed: unable to start container process: exec: "frobnicate": '
          "executable file not found in $PATH: unknown"]),
        (["exec", "deployment/db", "-n", "shop", "--", "sh", "-c", "frobnicate"], 127, ["frobnicate: not found"]),
        (["set", "env", "deployment/api", "-n", "shop", "MODE=fast"], 0, ["deployment.apps/api env updated"]),
        (["rollout", "status", "deployment/api", "-n", "shop", "--timeout=120s"], 0,
         ['deployment "api" successfully rolled out']),
        (["top", "pods", "-n", "shop"], 0, ["re:NAME\\s+CPU\\(cores\\)\\s+MEMORY\\(bytes\\)"]),
        (["events", "-n", "shop"], 0, ["re:LAST SEEN\\s+TYPE\\s+REASON\\s+OBJECT\\s+MESSAGE", "BackOff"]),
        (["get", "events", "-n", "shop", "--field-selector", "reason=BackOff", "-o", "name"], 0, ["event/api-"]),
    ],
}
STDIN = {("deployments", 1): DEPLOY_YAML, ("deployments", 4): DEPLOY_YAML, ("batch", 9): CLAIM_YAML}


def _holds(line: str, text: str) -> bool:
    return bool(re.search(line[3:], text, re.MULTILINE)) if line.startswith("re:") else line in text


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_scenes_answer_like_a_real_cluster(scene, tmp_path):
    with SimCluster(seed=5) as sim:
        if scene == "workload":
            sim.load("fidelity-app", lambda: app_objects("shop"))
            sim.advance(300)
        kubectl = Kubectl(sim.kubeconfig, tmp_path)
        for index, (args, code, lines) in enumerate(SCENES[scene]):
            result = kubectl.run(*args, stdin=STDIN.get((scene, index)))
            output = result.stdout + result.stderr
            assert result.returncode == code, f"{scene}[{index}] kubectl {' '.join(args)}: {output}"
            missing = [line for line in lines if not _holds(line, output)]
            assert not missing, f"{scene}[{index}] kubectl {' '.join(args)}: {missing} not in\n{output}"


def test_the_table_holds_at_least_150_invocations():
    assert len(_kind_rows()) + sum(len(rows) for rows in SCENES.values()) >= 150
