"""Image pulls and container start failures through the real kubectl, worded as kubelet 1.32 and containerd 1.7
word them: ErrImagePull then ImagePullBackOff with a doubling back-off, private images, InvalidImageName,
CreateContainerConfigError, FailedMount, and a command the image does not have.

One two-node cluster per module, restored to its empty state before each test; time moves only by ``advance``.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.images import InvalidImage, parse_reference, register_catalog

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

PRIVATE = "registry.example.com/acme/billing"
VAULT = "registry.example.com/acme/vault"
NOT_FOUND = ('rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:1.99": '
             'failed to resolve reference "docker.io/library/nginx:1.99": docker.io/library/nginx:1.99: not found')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimCluster]:
    catalog = Path(tmp_path_factory.mktemp("catalog")) / "images.yaml"
    catalog.write_text(yaml.safe_dump({"repositories": {
        PRIVATE: {"private": True, "tags": {"1.0": 31457280}},
        VAULT: {"private": True, "auth": ["ci:right-token"], "tags": {"2.0": 31457280}}}}))
    register_catalog(catalog)
    with SimCluster(seed=5) as sim:
        yield sim


@pytest.fixture
def kubectl(fresh_kubectl: Kubectl) -> Kubectl:
    return fresh_kubectl


def pod(name: str, image: str = "busybox:1.36", **extra: Any) -> dict[str, Any]:
    container = {"name": "main", "image": image, **extra.pop("container", {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": [container], **extra}}


def apply(kubectl: Kubectl, *objects: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def status(kubectl: Kubectl, name: str) -> str:
    return kubectl("get", "pod", name, "--no-headers").split()[2]


def waiting(kubectl: Kubectl, name: str) -> dict[str, str]:
    state = json.loads(kubectl("get", "pod", name, "-o", "jsonpath={.status.containerStatuses[0].state}"))
    return dict(state["waiting"])


def event_count(kubectl: Kubectl, name: str, reason: str) -> int:
    counts = kubectl("get", "events", "--field-selector", f"involvedObject.name={name},reason={reason}", "-o",
                     "jsonpath={.items[*].count}")
    return sum(int(c) for c in counts.split())


def test_references_are_parsed_and_normalised_as_the_kubelet_does():
    assert str(parse_reference("busybox")) == "docker.io/library/busybox:latest"
    assert str(parse_reference("bitnami/kubectl:1.32")) == "docker.io/bitnami/kubectl:1.32"
    assert str(parse_reference("localhost:5000/team/app:v2")) == "localhost:5000/team/app:v2"
    digest = "sha256:" + "a" * 64
    assert str(parse_reference(f"ghcr.io/x/y@{digest}")) == f"ghcr.io/x/y@{digest}"
    for bad in ("nginx:1.25:x", "nginx::1", "-nginx", "nginx@sha256:abc"):
        with pytest.raises(InvalidImage, match="invalid reference format"):
            parse_reference(bad)


def test_a_wrong_tag_backs_off_doubling_and_a_fixed_tag_recovers(cluster, kubectl):
    apply(kubectl, pod("web", "nginx:1.99"))
    assert status(kubectl, "web") == "ErrImagePull"
    assert waiting(kubectl, "web") == {"reason": "ErrImagePull", "message": NOT_FOUND}
    cluster.advance(1)
    assert status(kubectl, "web") == "ImagePullBackOff"
    assert waiting(kubectl, "web")["message"] == f'Back-off pulling image "nginx:1.99": ErrImagePull: {NOT_FOUND}'
    pulls = []
    for step in (8, 2, 18, 2, 38, 2):  # pulls at 0, 10, 30, 70 s: 10 s doubling
        cluster.advance(step)
        pulls.append(event_count(kubectl, "web", "Pulling"))
    assert pulls == [1, 2, 2, 3, 3, 4]
    described = kubectl("describe", "pod", "web")
    assert f'Failed to pull image "nginx:1.99": {NOT_FOUND}' in described
    assert 'Back-off pulling image "nginx:1.99"' in described
    assert "Error: ErrImagePull" in described and "Error: ImagePullBackOff" in described
    kubectl("set", "image", "pod/web", "main=nginx:1.27")
    assert status(kubectl, "web") == "Running"
    assert 'Container image "nginx:1.27" already present on machine' in kubectl("describe", "pod", "web")


def test_pull_policies(kubectl):
    apply(kubectl, pod("always", "nginx:1.27", container={"imagePullPolicy": "Always"}),
          pod("never", "nginx:1.99", container={"imagePullPolicy": "Never"}))
    assert status(kubectl, "always") == "Running"
    assert ('Successfully pulled image "nginx:1.27" in 1.311s (1.311s including waiting). Image size: 72950530 '
            "bytes.") in kubectl("describe", "pod", "always")
    assert waiting(kubectl, "never") == {"reason": "ErrImageNeverPull",
                                         "message": 'Container image "nginx:1.99" is not present with pull policy '
                                                    "of Never"}


def test_a_private_image_needs_a_pull_secret_for_its_registry(cluster, kubectl):
    apply(kubectl, pod("billing", f"{PRIVATE}:1.0", imagePullSecrets=[{"name": "regcred"}]))
    assert waiting(kubectl, "billing")["message"] == (
        f'rpc error: code = Unknown desc = failed to pull and unpack image "{PRIVATE}:1.0": failed to resolve '
        f'reference "{PRIVATE}:1.0": unexpected status from HEAD request to '
        "https://registry.example.com/v2/acme/billing/manifests/1.0: 401 Unauthorized")
    assert "Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed." in \
        kubectl("describe", "pod", "billing")
    config = {"auths": {"registry.example.com": {"username": "ci", "password": "s3cret"}}}
    apply(kubectl, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"},
                    "type": "kubernetes.io/dockerconfigjson",
                    "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})
    cluster.advance(11)
    assert status(kubectl, "billing") == "Running"
    assert f'Successfully pulled image "{PRIVATE}:1.0"' in kubectl("describe", "pod", "billing")


def test_an_invalid_image_name(kubectl):
    apply(kubectl, pod("caps", "Nginx:1.25"))
    message = ('Failed to apply default image tag "Nginx:1.25": couldn\'t parse image name "Nginx:1.25": invalid '
               "reference format: repository name (library/Nginx) must be lowercase")
    assert waiting(kubectl, "caps") == {"reason": "InvalidImageName", "message": message}
    assert event_count(kubectl, "caps", "InspectFailed") == 1


def test_a_missing_config_key_then_an_optional_one(kubectl):
    ref = {"configMapKeyRef": {"name": "app", "key": "LEVEL"}}
    apply(kubectl, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"MODE": "x"}})
    apply(kubectl, pod("strict", container={"env": [{"name": "LEVEL", "valueFrom": ref}]}),
          pod("relaxed", container={"env": [{"name": "LEVEL", "valueFrom": {
              "configMapKeyRef": {**ref["configMapKeyRef"], "optional": True}}}]}))
    assert waiting(kubectl, "strict") == {"reason": "CreateContainerConfigError",
                                          "message": "couldn't find key LEVEL in ConfigMap default/app"}
    assert "Error: couldn't find key LEVEL in ConfigMap default/app" in kubectl("describe", "pod", "strict")
    assert status(kubectl, "relaxed") == "Running"
    kubectl("patch", "configmap", "app", "-p", '{"data":{"LEVEL":"debug"}}')
    assert status(kubectl, "strict") == "Running"


def test_a_missing_volume_source_keeps_the_pod_creating(kubectl):
    volume = {"name": "cfg", "configMap": {"name": "settings"}}
    mount = {"volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}]}
    apply(kubectl, pod("mounted", container=mount, volumes=[volume]),
          pod("optional", container=mount, volumes=[{"name": "cfg", "configMap": {"name": "settings",
                                                                                  "optional": True}}]))
    assert status(kubectl, "mounted") == "ContainerCreating"
    assert 'MountVolume.SetUp failed for volume "cfg" : configmap "settings" not found' in \
        kubectl("describe", "pod", "mounted")
    assert status(kubectl, "optional") == "Running"
    apply(kubectl, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}},
          pod("items", container=mount, volumes=[{"name": "cfg", "configMap": {
              "name": "settings", "items": [{"key": "b", "path": "b.conf"}]}}]))
    assert status(kubectl, "mounted") == "Running"
    assert 'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: b' in \
        kubectl("describe", "pod", "items")


def test_a_command_the_image_does_not_have_fails_to_start(kubectl):
    apply(kubectl, pod("typo", container={"command": ["slep", "3600"]}))
    last = json.loads(kubectl("get", "pod", "typo", "-o", "jsonpath={.status.containerStatuses[0].lastState}"))
    assert (last["terminated"]["reason"], last["terminated"]["exitCode"]) == ("StartError", 128)
    assert 'exec: "slep": executable file not found in $PATH: unknown' in last["terminated"]["message"]
    assert status(kubectl, "typo") == "CrashLoopBackOff"


def unresolvable(ref: str, host: str, manifest: str) -> str:
    return (f'rpc error: code = Unknown desc = failed to pull and unpack image "{ref}": failed to resolve reference '
            f'"{ref}": failed to do request: Head "https://{manifest}": dial tcp: lookup {host} on 172.18.0.1:53: '
            "no such host")


def test_an_image_on_a_registry_host_that_does_not_resolve_fails_to_pull_until_fixed(cluster, kubectl):
    apply(kubectl, pod("typo", "docker.oi/library/python:3.12-slim", container={"command": ["sleep", "3600"]}),
          pod("port", "registry.shop.lan:5000/team/app:v2", container={"command": ["sleep", "3600"]}))
    message = unresolvable("docker.oi/library/python:3.12-slim", "docker.oi",
                           "docker.oi/v2/library/python/manifests/3.12-slim")
    assert waiting(kubectl, "typo") == {"reason": "ErrImagePull", "message": message}
    assert waiting(kubectl, "port")["message"] == unresolvable(
        "registry.shop.lan:5000/team/app:v2", "registry.shop.lan", "registry.shop.lan:5000/v2/team/app/manifests/v2")
    cluster.advance(1)
    assert status(kubectl, "typo") == "ImagePullBackOff"
    assert f'Failed to pull image "docker.oi/library/python:3.12-slim": {message}' in kubectl("describe", "pod",
                                                                                             "typo")
    kubectl("set", "image", "pod/typo", "main=docker.io/library/python:3.12-slim")
    cluster.advance(10)
    assert status(kubectl, "typo") == "Running"


def test_uncatalogued_images_on_hosts_that_resolve_stay_loaded_on_the_nodes(cluster, kubectl):
    images = ["myapp:1.0", "ghcr.io/acme/tool:2", "quay.io/team/x:1", "localhost:5000/dev/app:3", "10.0.0.5:5000/a:1",
              PRIVATE.replace("billing", "other") + ":1"]
    apply(kubectl, *(pod(f"p{i}", image, container={"command": ["sleep", "3600"]}) for i, image in enumerate(images)))
    assert [status(kubectl, f"p{i}") for i in range(len(images))] == ["Running"] * len(images)


def test_a_registry_that_names_its_logins_refuses_any_other(cluster, kubectl):
    kubectl("create", "secret", "docker-registry", "guess", "--docker-server=registry.example.com",
            "--docker-username=ci", "--docker-password=guessed")
    apply(kubectl, pod("vault", f"{VAULT}:2.0", imagePullSecrets=[{"name": "guess"}]))
    assert waiting(kubectl, "vault")["message"].endswith(
        "https://registry.example.com/v2/acme/vault/manifests/2.0: 401 Unauthorized")
    kubectl("create", "secret", "docker-registry", "right", "--docker-server=registry.example.com",
            "--docker-username=ci", "--docker-password=right-token")
    kubectl("delete", "pod", "vault", "--wait=false")
    cluster.advance(35)
    apply(kubectl, pod("vault", f"{VAULT}:2.0", imagePullSecrets=[{"name": "right"}]))
    assert status(kubectl, "vault") == "Running"
