"""The OpenAPI v3 documents: ``kubectl explain`` prints Kubernetes 1.32's own field documentation for every served
kind, and ``kubectl apply`` merges lists by the merge keys those documents carry."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.kinds import RESOURCES
from opsgym.cluster.sim.openapi import openapi_document, openapi_root

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


@pytest.fixture(scope="module")
def kubectl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kubectl]:
    with SimCluster(seed=3) as sim:
        yield Kubectl(sim.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


def test_explain_prints_the_real_field_documentation(kubectl):
    out = kubectl("explain", "pod.spec.containers.livenessProbe")
    assert "FIELD: livenessProbe <Probe>" in out
    assert "Periodic probe of container liveness. Container will be restarted if the" in out
    assert "failureThreshold\t<integer>" in out and "httpGet\t<HTTPGetAction>" in out
    out = kubectl("explain", "deployment.spec.strategy.rollingUpdate.maxSurge")
    assert "maxSurge <IntOrString>" in out and "The maximum number of pods that can be scheduled" in out


def test_explain_walks_nested_fields_recursively(kubectl):
    out = kubectl("explain", "pods.spec.containers", "--recursive")
    assert "readinessProbe\t<Probe>" in out and "containerPort\t<integer> -required-" in out


@pytest.mark.parametrize("resource", sorted(r.qualified for r in RESOURCES))
def test_every_served_kind_is_explained(kubectl, resource):
    rt = next(r for r in RESOURCES if r.qualified == resource)
    out = kubectl("explain", resource)
    assert f"KIND:       {rt.kind}\nVERSION:    {rt.version}" in out
    assert "metadata\t<ObjectMeta>" in out


def test_an_unknown_field_is_named_in_the_error(kubectl):
    result = kubectl.run("explain", "pod.spec.containrs")
    assert result.returncode == 1 and 'field "containrs" does not exist' in result.stderr


def test_documents_carry_the_strategic_merge_metadata_and_change_hash_with_content():
    core = json.loads(openapi_document("", "v1") or b"{}")
    containers = core["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    probe = core["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["livenessProbe"]
    assert probe["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.Probe"}]
    assert openapi_document("frobnicators.example.com", "v1") is None
    urls = [entry["serverRelativeURL"] for entry in openapi_root()["paths"].values()]
    assert len(set(urls)) == len(urls)


def test_apply_merges_containers_and_env_by_their_merge_keys(kubectl):
    """A second apply that edits one container's env keeps the other container and the other env entry: the
    three-way strategic merge uses the ``name`` merge keys of the served schema."""
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "merge", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"app": "merge"}},
                       "template": {"metadata": {"labels": {"app": "merge"}}, "spec": {"containers": [
                           {"name": "a", "image": "nginx:1.27", "env": [{"name": "X", "value": "1"}]},
                           {"name": "b", "image": "busybox:1.36"}]}}}}
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deploy))
    kubectl("set", "env", "deployment/merge", "-c", "a", "Y=2")
    deploy["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "X", "value": "3"}]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(deploy))
    live = json.loads(kubectl("get", "deployment", "merge", "-o", "json"))
    containers = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
    assert set(containers) == {"a", "b"}
    assert containers["a"]["env"] == [{"name": "X", "value": "3"}, {"name": "Y", "value": "2"}]
