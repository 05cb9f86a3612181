"""Storage on the embedded cluster through the real kubectl: kind's default class, claims that wait for their first
consumer and are provisioned when it is scheduled, claims that cannot bind and say why, static volumes, and the
scheduler refusing pods whose claims are missing or unbound."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from simkit import Kubectl, create, get

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

NOT_HELPFUL = "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


def claim(name: str, *, size: str = "1Gi", **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}, **spec}}


def pod(name: str, claim_name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                     "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                     "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}]}}


def volume(name: str, size: str, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/mnt/{name}"}, **spec}}


def apply(kubectl: Kubectl, *objects: dict) -> str:
    return kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def events(kubectl: Kubectl, name: str) -> list[tuple[str, str, str]]:
    out = json.loads(kubectl("get", "events", "--field-selector", f"involvedObject.name={name}", "-o", "json"))
    return [(e["type"], e["reason"], e["message"]) for e in out["items"]]


def row(kubectl: Kubectl, *args: str) -> list[str]:
    header, line = kubectl("get", *args).splitlines()
    return line.split()


def test_kind_default_class_is_listed(kubectl):
    header, line = kubectl("get", "storageclass").splitlines()
    assert header.split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION",
                              "AGE"]
    assert line.split()[:6] == ["standard", "(default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer",
                                "false"]
    sc = json.loads(kubectl("get", "sc", "standard", "-o", "json"))
    assert sc["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "true"}


def test_a_claim_waits_for_its_first_consumer_then_is_provisioned(cluster, kubectl):
    apply(kubectl, claim("data"))
    header = kubectl("get", "pvc").splitlines()[0].split()
    assert header == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                      "VOLUMEATTRIBUTESCLASS", "AGE"]
    assert row(kubectl, "pvc", "data")[:4] == ["data", "Pending", "standard", "<unset>"]
    assert events(kubectl, "data") == [("Normal", "WaitForFirstConsumer",
                                        "waiting for first consumer to be created before binding")]
    cluster.advance(30)
    assert row(kubectl, "pvc", "data")[1] == "Pending"

    apply(kubectl, pod("writer", "data"))
    cluster.advance(10)
    uid = kubectl("get", "pvc", "data", "-o", "jsonpath={.metadata.uid}")
    assert row(kubectl, "pvc", "data")[:6] == ["data", "Bound", f"pvc-{uid}", "1Gi", "RWO", "standard"]
    pv = row(kubectl, "pv")
    assert pv[:7] == [f"pvc-{uid}", "1Gi", "RWO", "Delete", "Bound", "default/data", "standard"]
    node = kubectl("get", "pod", "writer", "-o", "jsonpath={.spec.nodeName}")
    assert row(kubectl, "pod", "writer")[1:3] == ["1/1", "Running"]
    pinned = json.loads(kubectl("get", "pv", f"pvc-{uid}", "-o", "json"))["spec"]["nodeAffinity"]
    assert pinned["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [node]
    annotations = json.loads(kubectl("get", "pvc", "data", "-o", "json"))["metadata"]["annotations"]
    assert annotations["volume.kubernetes.io/selected-node"] == node
    reasons = [reason for _, reason, _ in events(kubectl, "data")]
    assert reasons[-2:] == ["Provisioning", "ProvisioningSucceeded"] and "ExternalProvisioning" in reasons


def test_a_claim_on_a_missing_class_stays_pending_with_the_event(cluster, kubectl):
    apply(kubectl, claim("fast-data", storageClassName="fast"))
    cluster.advance(10)
    assert row(kubectl, "pvc", "fast-data")[:3] == ["fast-data", "Pending", "fast"]
    assert ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fast" not found') in \
        events(kubectl, "fast-data")
    assert "ProvisioningFailed" in kubectl("describe", "pvc", "fast-data")


def test_a_pod_with_a_missing_claim_is_not_scheduled(cluster, kubectl):
    apply(kubectl, pod("orphan", "nowhere"))
    cluster.advance(10)
    assert row(kubectl, "pod", "orphan")[1:3] == ["0/1", "Pending"]
    assert ("Warning", "FailedScheduling", '0/2 nodes are available: persistentvolumeclaim "nowhere" not found. '
            + NOT_HELPFUL) in events(kubectl, "orphan")


def test_an_unbound_immediate_claim_blocks_its_pod_until_a_static_volume_binds(cluster, kubectl):
    apply(kubectl, claim("manual", size="2Gi", storageClassName=""))
    assert ("Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set") \
        in events(kubectl, "manual")
    apply(kubectl, pod("reader", "manual"))
    cluster.advance(5)
    assert ("Warning", "FailedScheduling", "0/2 nodes are available: pod has unbound immediate "
            "PersistentVolumeClaims. " + NOT_HELPFUL) in events(kubectl, "reader")

    apply(kubectl, volume("small", "1Gi"), volume("fits", "3Gi"), volume("big", "5Gi"))
    cluster.advance(5)
    assert row(kubectl, "pvc", "manual")[:5] == ["manual", "Bound", "fits", "3Gi", "RWO"]
    out = {line.split()[0]: line.split() for line in kubectl("get", "pv").splitlines()[1:]}
    assert out["fits"][3:6] == ["Retain", "Bound", "default/manual"]
    assert out["small"][4] == out["big"][4] == "Available"
    cluster.advance(10)
    assert row(kubectl, "pod", "reader")[1:3] == ["1/1", "Running"]


def test_a_released_volume_keeps_its_data_under_retain(cluster, kubectl):
    kubectl("delete", "pod", "reader", "--wait=false")
    cluster.advance(5)
    kubectl("delete", "pvc", "manual", "--wait=false")
    cluster.advance(5)
    assert "manual" not in kubectl("get", "pvc", "-o", "name")
    assert row(kubectl, "pv", "fits")[4:6] == ["Released", "default/manual"]


# ---------------------------------------------------------------------------------------------------- engine level
def test_claim_selectors_and_volume_names_choose_the_volume(engine: Engine):
    create(engine, volume("pv-huge", "9Gi", storageClassName=""))
    for name, labels in (("pv-a", {"tier": "gold"}), ("pv-b", {"tier": "silver"})):
        create(engine, volume(name, "1Gi", storageClassName="") | {"metadata": {"name": name, "labels": labels}})
    create(engine, claim("any", storageClassName=""))
    assert get(engine, "persistentvolumeclaims", "any")["spec"]["volumeName"] == "pv-a"  # the smallest that fits
    create(engine, claim("silver", storageClassName="", selector={"matchLabels": {"tier": "silver"}}))
    assert get(engine, "persistentvolumeclaims", "silver")["spec"]["volumeName"] == "pv-b"
    create(engine, claim("named", storageClassName="", volumeName="pv-huge", size="20Gi"))
    named = get(engine, "persistentvolumeclaims", "named")
    assert named["status"]["phase"] == "Pending"
    assert any(e["reason"] == "VolumeMismatch" and e["message"] == 'Cannot bind to requested volume "pv-huge": '
               "requested PV is too small" for e in engine.store.items("events", "default"))


def test_an_external_provisioner_is_waited_for(engine: Engine):
    create(engine, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "ebs"},
                    "provisioner": "ebs.csi.aws.com"})
    create(engine, claim("disk", storageClassName="ebs"))
    disk = get(engine, "persistentvolumeclaims", "disk")
    assert disk["status"]["phase"] == "Pending"
    assert disk["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == "ebs.csi.aws.com"
    assert [e["message"] for e in engine.store.items("events", "default") if e["reason"] == "ExternalProvisioning"] \
        == ["Waiting for a volume to be created either by the external provisioner 'ebs.csi.aws.com' or manually by "
            "the system administrator. If volume creation is delayed, please verify that the provisioner is running "
            "and correctly registered."]
    assert get(engine, "storageclasses", "ebs")["volumeBindingMode"] == "Immediate"


def test_a_lost_volume_marks_the_claim_lost(engine: Engine):
    create(engine, volume("gone", "1Gi", storageClassName=""))
    create(engine, claim("c", storageClassName=""))
    assert get(engine, "persistentvolumeclaims", "c")["status"]["phase"] == "Bound"
    with engine.lock:
        engine.store.remove("persistentvolumes", "", "gone")
        engine.reconcile()
    assert get(engine, "persistentvolumeclaims", "c")["status"]["phase"] == "Lost"



def test_a_claim_in_use_is_kept_until_its_pod_is_gone(engine: Engine):
    create(engine, volume("vol", "1Gi", storageClassName=""))
    create(engine, claim("kept", storageClassName=""))
    create(engine, pod("user", "kept"))
    with engine.lock:
        engine.api.delete(lookup("persistentvolumeclaims"), "default", "kept")
        engine.reconcile()
    kept = get(engine, "persistentvolumeclaims", "kept")
    assert kept["metadata"]["deletionTimestamp"] and kept["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    with engine.lock:
        engine.api.delete(lookup("pods"), "default", "user", {"gracePeriodSeconds": 0})
        engine.reconcile()
    assert engine.store.get("persistentvolumeclaims", "default", "kept") is None
    assert get(engine, "persistentvolumes", "vol")["status"]["phase"] == "Released"


def test_a_namespace_with_claims_is_deleted(engine: Engine):
    create(engine, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}})
    create(engine, claim("c") | {"metadata": {"name": "c", "namespace": "data"}})
    create(engine, pod("p", "c") | {"metadata": {"name": "p", "namespace": "data"}})
    assert get(engine, "persistentvolumeclaims", "c", "data")["status"]["phase"] == "Bound"
    with engine.lock:
        engine.api.delete(lookup("namespaces"), "", "data")
    engine.advance(60)
    assert engine.store.get("namespaces", "", "data") is None
    assert engine.store.items("persistentvolumes") == []


def test_a_claim_waits_for_its_unschedulable_pod(engine: Engine):
    create(engine, claim("late"))
    create(engine, pod("stuck", "late") | {"spec": {**pod("stuck", "late")["spec"], "nodeSelector": {"disk": "ssd"}}})
    assert get(engine, "pods", "stuck")["spec"].get("nodeName") is None
    assert [e["message"] for e in engine.store.items("events", "default") if e["reason"] == "WaitForPodScheduled"] \
        == ["waiting for pod stuck to be scheduled"]
    assert get(engine, "persistentvolumeclaims", "late")["status"]["phase"] == "Pending"


def test_an_immediate_class_provisions_at_once(engine: Engine):
    create(engine, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "now"},
                    "provisioner": "rancher.io/local-path", "reclaimPolicy": "Retain"})
    made = create(engine, claim("eager", storageClassName="now"))
    eager = get(engine, "persistentvolumeclaims", "eager")
    assert (eager["status"]["phase"], eager["spec"]["volumeName"]) == ("Bound", f"pvc-{made['metadata']['uid']}")
    pv = get(engine, "persistentvolumes", eager["spec"]["volumeName"])
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" and "nodeAffinity" not in pv["spec"]


# ---------------------------------------------------------------------------------------------------- claim updates
IMMUTABLE = ("spec: Forbidden: spec is immutable after creation except resources.requests and "
             "volumeAttributesClassName for bound claims")


def test_a_claims_spec_is_immutable_and_deleting_it_frees_it_from_an_unscheduled_pod(cluster, kubectl):
    apply(kubectl, claim("kv-data", storageClassName="fast"), pod("kv", "kv-data"))
    cluster.advance(5)
    assert row(kubectl, "pod", "kv")[2] == "Pending"
    patched = kubectl.run("patch", "pvc", "kv-data", "-p", '{"spec":{"storageClassName":"standard"}}')
    assert patched.returncode == 1
    assert patched.stderr.startswith(f'The PersistentVolumeClaim "kv-data" is invalid: {IMMUTABLE}\n'
                                     "  core.PersistentVolumeClaimSpec{\n")
    assert '- \tStorageClassName: &"fast",\n+ \tStorageClassName: &"standard",\n' in patched.stderr
    assert kubectl.run("apply", "-f", "-", stdin=yaml.safe_dump(claim("kv-data", storageClassName="standard"))) \
        .returncode == 1
    assert row(kubectl, "pvc", "kv-data")[:3] == ["kv-data", "Pending", "fast"]
    kubectl("delete", "pvc", "kv-data", "--wait=false")  # its only user is a pod no node has taken
    cluster.advance(1)
    assert "kv-data" not in kubectl("get", "pvc", "-o", "name")
    kubectl("create", "-f", "-", stdin=yaml.safe_dump(claim("kv-data", storageClassName="standard")))
    cluster.advance(10)
    assert row(kubectl, "pvc", "kv-data")[:2] == ["kv-data", "Bound"]
    assert row(kubectl, "pod", "kv")[1:3] == ["1/1", "Running"]


def test_a_bound_claim_grows_only_on_a_class_that_allows_expansion_and_changes_nothing_else(cluster, kubectl):
    grow = kubectl.run("patch", "pvc", "kv-data", "-p", '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}')
    assert grow.stderr == ('Error from server (Forbidden): persistentvolumeclaims "kv-data" is forbidden: only '
                           "dynamically provisioned pvc can be resized and the storageclass that provisions the pvc "
                           "must support resize\n")
    refused = kubectl.run("patch", "pvc", "kv-data", "-p", '{"spec":{"accessModes":["ReadWriteMany"]}}')
    assert refused.returncode == 1 and IMMUTABLE in refused.stderr
    assert '- \tAccessModes: {"ReadWriteOnce"},\n+ \tAccessModes: {"ReadWriteMany"},\n' in refused.stderr
    assert "... // 6 identical fields" in refused.stderr
    same = kubectl.run("patch", "pvc", "kv-data", "-p", '{"spec":{"resources":{"requests":{"storage":"1024Mi"}}}}')
    assert same.returncode == 0
    apply(kubectl, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "grows"},
                    "provisioner": "rancher.io/local-path", "allowVolumeExpansion": True,
                    "volumeBindingMode": "WaitForFirstConsumer"},
          claim("big", storageClassName="grows"))
    pending = kubectl.run("patch", "pvc", "big", "-p", '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}')
    assert IMMUTABLE in pending.stderr  # not bound yet: validation refuses it before admission is asked
    apply(kubectl, pod("big-user", "big"))
    cluster.advance(5)
    kubectl("patch", "pvc", "big", "-p", '{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}')
    shrink = kubectl.run("patch", "pvc", "big", "-p", '{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}')
    assert "spec.resources.requests.storage: Forbidden: field can not be less than status.capacity" in shrink.stderr
    mode = kubectl.run("patch", "pvc", "big", "-p", '{"spec":{"volumeMode":"Block"}}')
    assert mode.stderr.startswith(f'The PersistentVolumeClaim "big" is invalid: \n* {IMMUTABLE}\n')
    assert mode.stderr.endswith('\n* volumeMode: Invalid value: "Block": field is immutable\n')
    kubectl("delete", "pod", "big-user", "--wait=false")
    cluster.advance(40)
    kubectl("delete", "pvc", "big")


def test_a_claim_used_by_a_scheduled_pod_stays_terminating(cluster, kubectl):
    kubectl("delete", "pvc", "kv-data", "--wait=false")
    cluster.advance(5)
    assert row(kubectl, "pvc", "kv-data")[1] == "Terminating"
    kubectl("delete", "pod", "kv", "--wait=false")
    cluster.advance(40)
    assert "kv-data" not in kubectl("get", "pvc", "-o", "name")
