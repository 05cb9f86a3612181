"""Protobuf request bodies: kubectl's typed generators against the embedded cluster, and the decoder's JSON rules.

The oracle for each generator is the generator itself: ``--dry-run=client -o json`` prints the object kubectl
builds, which a second cluster (same seed) gets as JSON through ``create -f``; the first cluster gets the very same
generator command as protobuf. After server defaulting both must store the same object. A few fields are also
asserted by value, so a decoder and a JSON path that were wrong the same way would still fail.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.protobuf import MAGIC, MEDIA_TYPE, UNKNOWN, ProtobufError, decode, message_class

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


# ---- encoding helpers: the same generated classes a client would use


def envelope(message: Any, api_version: str, kind: str) -> bytes:
    unknown: Any = message_class(UNKNOWN)()
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = api_version, kind
    unknown.raw = message.SerializeToString()
    return MAGIC + unknown.SerializeToString()


def new(name: str) -> Any:
    return message_class(name)()


# ---- unit tests of the JSON conventions


def test_pointer_fields_are_absent_unless_set_and_kept_when_zero():
    deployment = new("apps/v1/Deployment")
    deployment.metadata.name = "web"
    container = deployment.spec.template.spec.containers.add()
    container.image = "nginx"
    obj = decode(envelope(deployment, "apps/v1", "Deployment"))
    assert obj["apiVersion"] == "apps/v1" and obj["kind"] == "Deployment"
    assert "replicas" not in obj["spec"] and "progressDeadlineSeconds" not in obj["spec"]
    assert obj["spec"]["template"]["spec"]["containers"] == [{"name": "", "image": "nginx", "resources": {}}]
    assert obj["metadata"] == {"name": "web"}  # zero Time is Go's null: absent
    assert "strategy" in obj["spec"] and obj["spec"]["strategy"] == {}  # a non-pointer struct is always written
    deployment.spec.replicas = 0
    assert decode(envelope(deployment, "apps/v1", "Deployment"))["spec"]["replicas"] == 0


def test_omitempty_drops_zero_scalars_and_empty_lists_but_keeps_required_zeros():
    service = new("v1/Service")
    port = service.spec.ports.add()
    port.port = 80
    service.spec.type = ""
    obj = decode(envelope(service, "v1", "Service"))
    assert obj["spec"]["ports"] == [{"port": 80, "targetPort": 0}]  # port has no omitempty; a zero IntOrString is 0
    assert "type" not in obj["spec"] and "selector" not in obj["spec"] and "externalIPs" not in obj["spec"]


def test_int_or_string_quantity_time_bytes_and_inline():
    deployment = new("apps/v1/Deployment")
    deployment.metadata.creationTimestamp.seconds = 1_700_000_000
    rolling = deployment.spec.strategy.rollingUpdate
    rolling.maxSurge.type, rolling.maxSurge.strVal = 1, "25%"
    rolling.maxUnavailable.type, rolling.maxUnavailable.intVal = 0, 2
    pod = deployment.spec.template.spec
    container = pod.containers.add()
    container.name = "c"
    container.resources.limits["cpu"].string = "500m"
    container.resources.requests["memory"].string = "64Mi"
    container.livenessProbe.handler.httpGet.path = "/healthz"
    container.livenessProbe.handler.httpGet.port.type, container.livenessProbe.handler.httpGet.port.strVal = 1, "http"
    volume = pod.volumes.add()
    volume.name = "cfg"
    volume.volumeSource.configMap.localObjectReference.name = "app-config"
    obj = decode(envelope(deployment, "apps/v1", "Deployment"))
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert obj["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 2}
    got = obj["spec"]["template"]["spec"]["containers"][0]
    assert got["resources"] == {"limits": {"cpu": "500m"}, "requests": {"memory": "64Mi"}}
    assert got["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": "http"}}
    assert obj["spec"]["template"]["spec"]["volumes"] == [{"name": "cfg", "configMap": {"name": "app-config"}}]
    secret = new("v1/Secret")
    secret.data["key"] = b"\x00\xffbinary"
    secret.immutable = False
    got_secret = decode(envelope(secret, "v1", "Secret"))
    assert got_secret["data"] == {"key": base64.b64encode(b"\x00\xffbinary").decode()}
    assert got_secret["immutable"] is False  # a pointer set to false is kept


def test_json_names_from_go_tags_and_named_string_lists():
    review = new("authorization.k8s.io/v1/SubjectAccessReview")
    review.spec.user = "alice"
    review.spec.extra["scopes"].items.extend(["a", "b"])
    review.spec.resourceAttributes.verb = "get"
    assert decode(envelope(review, "authorization.k8s.io/v1", "SubjectAccessReview"))["spec"] == {
        "user": "alice", "extra": {"scopes": ["a", "b"]}, "resourceAttributes": {"verb": "get"}}
    token = new("authentication.k8s.io/v1/TokenRequest")
    token.spec.boundObjectRef.uID = "1234"
    assert decode(envelope(token, "authentication.k8s.io/v1", "TokenRequest"))["spec"]["boundObjectRef"] == {
        "uid": "1234"}


@pytest.mark.parametrize("kind", ["Role", "ClusterRole"])
def test_rbac_roles_decode(kind):
    role = new(f"rbac.authorization.k8s.io/v1/{kind}")
    role.metadata.name = "reader"
    rule = role.rules.add()
    rule.verbs.extend(["get", "list"])
    rule.apiGroups.append("")
    rule.resources.append("pods")
    rule.resourceNames.append("web")
    if kind == "ClusterRole":
        role.aggregationRule.clusterRoleSelectors.add().matchLabels["rbac.example.com/aggregate"] = "true"
    obj = decode(envelope(role, "rbac.authorization.k8s.io/v1", kind))
    assert obj["rules"] == [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"],
                             "resourceNames": ["web"]}]
    if kind == "ClusterRole":
        assert obj["aggregationRule"] == {"clusterRoleSelectors": [{"matchLabels": {
            "rbac.example.com/aggregate": "true"}}]}


@pytest.mark.parametrize("kind", ["RoleBinding", "ClusterRoleBinding"])
def test_rbac_bindings_decode(kind):
    binding = new(f"rbac.authorization.k8s.io/v1/{kind}")
    binding.metadata.name = "read-pods"
    subject = binding.subjects.add()
    subject.kind, subject.name, subject.namespace = "ServiceAccount", "agent", "default"
    binding.roleRef.apiGroup, binding.roleRef.kind, binding.roleRef.name = "rbac.authorization.k8s.io", "Role", "r"
    obj = decode(envelope(binding, "rbac.authorization.k8s.io/v1", kind))
    assert obj["subjects"] == [{"kind": "ServiceAccount", "name": "agent", "namespace": "default"}]
    assert obj["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}


def _configmap_body() -> bytes:
    configmap = new("v1/ConfigMap")
    configmap.metadata.name = "raw"
    configmap.data["k"] = "v"
    return envelope(configmap, "v1", "ConfigMap")


def _unknown_kind() -> bytes:
    unknown: Any = message_class(UNKNOWN)()
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = "v1", "Frobnicator"
    return MAGIC + unknown.SerializeToString()


def _configmap_raw(raw: bytes) -> bytes:
    unknown: Any = message_class(UNKNOWN)()
    unknown.typeMeta.apiVersion, unknown.typeMeta.kind = "v1", "ConfigMap"
    unknown.raw = raw
    return MAGIC + unknown.SerializeToString()


def _far_future() -> bytes:
    configmap = new("v1/ConfigMap")
    configmap.metadata.creationTimestamp.seconds = 2**62
    return _configmap_raw(configmap.SerializeToString())


MALFORMED = {
    "wrong magic": (b"k9s\x00" + _configmap_body()[4:], "the object provided is unrecognized (must be of type "
                    "ConfigMap): provided data does not appear to be a protobuf message, expected prefix "
                    "[107 56 115 0] (6b397300"),
    "magic only": (MAGIC, "the object provided is unrecognized (must be of type ConfigMap): empty body (6b387300)"),
    "truncated envelope": (_configmap_body()[:-3], "the object provided is unrecognized (must be of type "
                           "ConfigMap): proto: runtime.Unknown:"),
    "bad inner bytes": (_configmap_raw(b"\x0a\x05ab"),  # metadata says 5 bytes follow, 2 do
                        'ConfigMap in version "v1" cannot be handled as a ConfigMap: proto: ConfigMap:'),
    "nested too deep": (_configmap_raw(b"\x0b" * 200 + b"\x0c" * 200),  # unknown groups, 200 levels
                        'ConfigMap in version "v1" cannot be handled as a ConfigMap: proto: ConfigMap:'),
    "time out of range": (_far_future(), 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
                          "Time.MarshalJSON: year outside of range [0,9999]"),
    "no kind": (MAGIC + b"\x0a\x04\x0a\x02v1", "the object provided is unrecognized (must be of type ConfigMap): "
                "Object 'Kind' is missing (6b3873000a040a027631)"),
    "unknown kind": (_unknown_kind(), 'Frobnicator in version "v1" cannot be handled as a ConfigMap: no kind '
                     '"Frobnicator" is registered for version "v1"'),
}


def test_invalid_utf8_in_a_string_becomes_the_replacement_character_as_go_json_writes_it():
    obj = decode(_configmap_raw(b"\x0a\x04\x0a\x02\xff\xfe"))  # metadata.name = two bytes that are not UTF-8
    assert obj["metadata"]["name"] == "\ufffd\ufffd"


def test_delete_options_in_any_group_version():
    options = new("meta.k8s.io/v1/DeleteOptions")
    options.propagationPolicy = "Foreground"
    options.gracePeriodSeconds = 0
    assert decode(envelope(options, "v1", "DeleteOptions")) == {
        "apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"}


@pytest.mark.parametrize("body", [b"", b"k8s", MALFORMED["bad inner bytes"][0], _configmap_body()[:9]])
def test_decode_raises_protobuf_error_only(body):
    with pytest.raises(ProtobufError):
        decode(body)


def test_malformed_bodies_get_400_with_a_reason_and_the_server_keeps_serving(sim_cluster):
    client = sim_cluster.api_client().rest_client
    url = sim_cluster.url + "/api/v1/namespaces/default/configmaps"

    def post(body: bytes, content_type: str = MEDIA_TYPE) -> tuple[int, dict[str, Any]]:
        response = client.request("POST", url, body=body, headers={
            "Content-Type": content_type, "Authorization": f"Bearer {sim_cluster.token}"})
        return response.status, json.loads(response.read())

    for case, (body, message) in MALFORMED.items():
        code, status = post(body)
        assert (code, status["reason"]) == (400, "BadRequest"), case
        assert status["message"].startswith(message), (case, status["message"])
    code, status = post(b'{"a": 1}', "application/cbor")
    assert (code, status["reason"]) == (415, "UnsupportedMediaType")
    code, created = post(_configmap_body())
    assert code == 201 and created["data"] == {"k": "v"}


# ---- real kubectl: each generator, protobuf vs its own client-side JSON


@dataclass
class Generator:
    argv: list[str]  # after `kubectl create`, with {placeholders} for files
    resource: str  # what `kubectl get` takes
    check: Callable[[dict[str, Any]], bool] = field(default=lambda obj: True)
    setup: list[str] = field(default_factory=list)  # a manifest (JSON) both clusters get first


CRONJOB = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
           "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox",
                                                               "command": ["echo", "hi"]}]}}}}}}

GENERATORS = {
    "configmap-files": Generator(
        ["configmap", "cm-files", "--from-file={text}", "--from-file=blob={blob}", "--from-literal=k=v"],
        "configmap/cm-files",
        lambda o: o["data"]["k"] == "v" and o["data"]["a.txt"] == "hello\n" and "blob" in o["binaryData"]),
    "configmap-env": Generator(["configmap", "cm-env", "--from-env-file={env}"], "configmap/cm-env",
                               lambda o: o["data"] == {"MODE": "fast", "LEVEL": "3"}),
    "secret-generic": Generator(["secret", "generic", "s-gen", "--from-literal=password=hunter2", "--type=Opaque"],
                                "secret/s-gen",
                                lambda o: base64.b64decode(o["data"]["password"]) == b"hunter2"),
    "secret-tls": Generator(["secret", "tls", "s-tls", "--cert={crt}", "--key={key}"], "secret/s-tls",
                            lambda o: o["type"] == "kubernetes.io/tls" and set(o["data"]) == {"tls.crt", "tls.key"}),
    "secret-docker-registry": Generator(
        ["secret", "docker-registry", "s-reg", "--docker-server=r.example.com", "--docker-username=u",
         "--docker-password=p", "--docker-email=u@example.com"], "secret/s-reg",
        lambda o: o["type"] == "kubernetes.io/dockerconfigjson"
        and "r.example.com" in json.loads(base64.b64decode(o["data"][".dockerconfigjson"]))["auths"]),
    "deployment": Generator(["deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=8080"],
                            "deployment/web",
                            lambda o: o["spec"]["replicas"] == 3
                            and o["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 8080),
    "job": Generator(["job", "once", "--image=busybox", "--", "echo", "hello"], "job/once",
                     lambda o: o["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hello"]),
    "job-from-cronjob": Generator(["job", "manual", "--from=cronjob/nightly"], "job/manual",
                                  lambda o: o["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"]
                                  == "manual", setup=[json.dumps(CRONJOB)]),
    "cronjob": Generator(["cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
                         "cronjob/tick", lambda o: o["spec"]["schedule"] == "*/5 * * * *"),
    "service-clusterip": Generator(["service", "clusterip", "svc-c", "--tcp=80:8080"], "service/svc-c",
                                   lambda o: o["spec"]["ports"][0]["targetPort"] == 8080),
    "service-nodeport": Generator(["service", "nodeport", "svc-n", "--tcp=80:8080", "--node-port=30080"],
                                  "service/svc-n", lambda o: o["spec"]["ports"][0]["nodePort"] == 30080),
    "service-loadbalancer": Generator(["service", "loadbalancer", "svc-l", "--tcp=443:8443"], "service/svc-l",
                                      lambda o: o["spec"]["type"] == "LoadBalancer"),
    "service-externalname": Generator(["service", "externalname", "svc-e", "--external-name=db.example.com"],
                                      "service/svc-e", lambda o: o["spec"]["externalName"] == "db.example.com"),
    "namespace": Generator(["namespace", "team-a"], "namespace/team-a"),
    "serviceaccount": Generator(["serviceaccount", "robot"], "serviceaccount/robot"),
    "quota": Generator(["quota", "q", "--hard=cpu=2,memory=1Gi,pods=10"], "resourcequota/q",
                       lambda o: o["spec"]["hard"] == {"cpu": "2", "memory": "1Gi", "pods": "10"}),
    "priorityclass": Generator(["priorityclass", "high", "--value=1000", "--description=urgent"],
                               "priorityclass/high", lambda o: o["value"] == 1000 and o["description"] == "urgent"),
    "poddisruptionbudget": Generator(["poddisruptionbudget", "pdb", "--min-available=1", "--selector=app=web"],
                                     "poddisruptionbudget/pdb",
                                     lambda o: o["spec"]["minAvailable"] == 1
                                     and o["spec"]["selector"] == {"matchLabels": {"app": "web"}}),
    "ingress": Generator(["ingress", "ing", "--class=nginx", "--rule=shop.example.com/api*=api:8080,tls=shop-tls"],
                         "ingress/ing",
                         lambda o: o["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
                         == {"name": "api", "port": {"number": 8080}}
                         and o["spec"]["tls"] == [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]),
    "role": Generator(["role", "reader", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=web"],
                      "role/reader",
                      lambda o: [(r["apiGroups"], r["resources"], r["resourceNames"]) for r in o["rules"]]
                      == [([""], ["pods"], ["web"]), (["apps"], ["deployments"], ["web"])]),
    "rolebinding": Generator(["rolebinding", "read-pods", "--role=reader", "--serviceaccount=default:robot",
                              "--user=alice"], "rolebinding/read-pods",
                             lambda o: o["roleRef"]["name"] == "reader"
                             and {s["name"] for s in o["subjects"]} == {"robot", "alice"}),
    "clusterrole": Generator(["clusterrole", "node-reader", "--verb=get", "--resource=nodes",
                              "--non-resource-url=/healthz"], "clusterrole/node-reader",
                             lambda o: {"nonResourceURLs": ["/healthz"], "verbs": ["get"]} in o["rules"]),
    "clusterrole-aggregated": Generator(["clusterrole", "monitoring",
                                         "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true"],
                                        "clusterrole/monitoring",
                                        lambda o: o["aggregationRule"]["clusterRoleSelectors"] == [{"matchLabels": {
                                            "rbac.example.com/aggregate-to-monitoring": "true"}}]),
    "clusterrolebinding": Generator(["clusterrolebinding", "devs-read", "--clusterrole=node-reader", "--group=devs"],
                                    "clusterrolebinding/devs-read",
                                    lambda o: o["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io",
                                                                 "kind": "Group", "name": "devs"}]),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("generator-files")
    paths = {"text": folder / "a.txt", "blob": folder / "b.bin", "env": folder / "app.env",
             "crt": folder / "tls.crt", "key": folder / "tls.key"}
    paths["text"].write_text("hello\n")
    paths["blob"].write_bytes(bytes(range(256)))
    paths["env"].write_text("MODE=fast\nLEVEL=3\n")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(paths["key"]), "-out", str(paths["crt"]), "-days", "1", "-subj", "/CN=shop"],
                   check=True, capture_output=True, timeout=60)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="module")
def kubectls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Kubectl, Kubectl]]:
    with SimCluster(seed=5) as subject, SimCluster(seed=5) as oracle:
        yield (Kubectl(subject.kubeconfig, tmp_path_factory.mktemp("cache-subject")),
               Kubectl(oracle.kubeconfig, tmp_path_factory.mktemp("cache-oracle")))


def _comparable(obj: dict[str, Any]) -> dict[str, Any]:
    """The stored object less what the server assigns per cluster (identity, timestamps, allocations, status), and
    without nulls: the JSON path keeps a template's ``creationTimestamp: null``, protobuf has no null to send."""
    text = json.dumps(obj)
    uids = [obj["metadata"]["uid"], *(ref["uid"] for ref in obj["metadata"].get("ownerReferences", []))]
    for uid in uids:
        text = text.replace(uid, "<uid>")
    out = json.loads(text, object_hook=lambda d: {k: v for k, v in d.items() if v is not None})
    out.pop("status", None)
    for key in ("resourceVersion", "creationTimestamp", "managedFields"):
        out["metadata"].pop(key, None)
    for key in ("clusterIP", "clusterIPs"):
        out.get("spec", {}).pop(key, None)
    return out


@needs_kubectl
@pytest.mark.parametrize("case", list(GENERATORS))
def test_kubectl_create_generator_stores_what_its_json_would(case, kubectls, files):
    subject, oracle = kubectls
    generator = GENERATORS[case]
    for manifest in generator.setup:
        for kubectl in kubectls:
            kubectl("create", "-f", "-", stdin=manifest)
    argv = [a.format(**files) for a in generator.argv]
    client_json = subject("create", "--dry-run=client", "-o", "json", *argv)
    oracle("create", "-f", "-", stdin=client_json)
    assert subject("create", *argv).strip().endswith(" created")
    got, want = (json.loads(k("get", generator.resource, "-o", "json")) for k in (subject, oracle))
    assert _comparable(got) == _comparable(want)
    assert generator.check(got), got


@needs_kubectl
def test_dry_run_server_with_a_protobuf_body_stores_nothing(kubectls):
    subject, _ = kubectls
    out = subject("create", "configmap", "ghost", "--from-literal=a=b", "--dry-run=server", "-o", "json")
    assert json.loads(out)["data"] == {"a": "b"}
    assert "NotFound" in subject.run("get", "configmap", "ghost").stderr
