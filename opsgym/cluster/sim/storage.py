"""Storage on the embedded cluster: the PersistentVolume controller, the local-path provisioner kind ships, and the
scheduler's volume checks (the kinds themselves, kind's default class included, are in ``storage_kinds``).

What an agent sees follows kube-controller-manager 1.32's PV controller and the scheduler's VolumeBinding plugin: a
claim on a ``WaitForFirstConsumer`` class waits (event ``WaitForFirstConsumer``) until a pod using it is scheduled,
then the node is written on the claim (``volume.kubernetes.io/selected-node``) and a static volume on that node is
bound or ``rancher.io/local-path`` provisions ``pvc-<claim uid>`` pinned to the node; other provisioners are external
(the claim waits, event ``ExternalProvisioning``). A pod whose claim is missing, lost or unbound with an
``Immediate`` class is never placed, and a pod whose volume is pinned fits only that volume's node.

Everything runs at the current virtual instant; events are recorded once per state (the real controller repeats
them every resync, which only raises their count).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.storage_kinds import LOCAL_PATH, PV_PROTECTION, PVC_PROTECTION, claim_class, storage_size
from opsgym.cluster.sim.store import revised
from opsgym.k8s.selectors import Requirement, Selector, matches_selector

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine
    from opsgym.cluster.sim.store import Store

__all__ = ["StorageController", "claim_names", "volume_node_reason", "volume_unschedulable"]

Obj = dict[str, Any]
LOCAL_PATH_IDENTITY = f"{LOCAL_PATH}_local-path-provisioner-7dc846544d-4hkbq"
"""The provisioner's event source, as kind's local-path-provisioner Deployment names itself."""
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
PROVISIONER_ANNOTATIONS = ("volume.beta.kubernetes.io/storage-provisioner", "volume.kubernetes.io/storage-provisioner")
COMPONENT = "persistentvolume-controller"
WAIT_FIRST_CONSUMER = "waiting for first consumer to be created before binding"
NO_CLASS = "no persistent volumes available for this claim and no storage class is set"
CLAIM_LOST = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"


def claim_names(pod: Obj) -> list[str]:
    """The PersistentVolumeClaims a pod's volumes name, in volume order."""
    return [str((v.get("persistentVolumeClaim") or {}).get("claimName"))
            for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("persistentVolumeClaim")]


def _delay_binding(store: Store, claim: Obj) -> bool:
    name = claim_class(claim)
    sc = store.get("storageclasses", "", name) if name else None
    return sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"


def _node_matches(pv: Obj, node: Obj) -> bool:
    """Whether the volume's required node affinity admits ``node`` (terms ORed, expressions ANDed)."""
    terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")
    if not terms:
        return True
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:
        by_label = Selector.from_object({"matchExpressions": term.get("matchExpressions") or []})
        by_field = Selector(tuple(Requirement(str(e.get("key")), str(e.get("operator")),
                                              frozenset(e.get("values") or [])) for e in term.get("matchFields") or []))
        if (term.get("matchExpressions") or term.get("matchFields")) and by_label.matches(labels) and \
                by_field.matches(fields):
            return True
    return False


def mismatch(pv: Obj, claim: Obj) -> str:
    """Why ``pv`` cannot serve ``claim`` (the PV controller's checkVolumeSatisfyClaim), or ""."""
    spec, claim_spec = pv.get("spec") or {}, claim.get("spec") or {}
    if pv["metadata"].get("deletionTimestamp"):
        return f'the volume is marked for deletion "{pv["metadata"]["name"]}"'
    if storage_size(spec.get("capacity")) < storage_size((claim_spec.get("resources") or {}).get("requests")):
        return "requested PV is too small"
    if (spec.get("storageClassName") or "") != claim_class(claim):
        return "storageClassName does not match"
    if spec.get("volumeMode", "Filesystem") != claim_spec.get("volumeMode", "Filesystem"):
        return "incompatible volumeMode"
    if not set(claim_spec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return "incompatible accessMode"
    return ""


def _candidates(store: Store, claim: Obj, node: Obj | None) -> list[Obj]:
    """Unclaimed volumes that fit ``claim`` (on ``node`` when given), smallest first, as findBestMatchForClaim."""
    selector = (claim.get("spec") or {}).get("selector")
    fits = [pv for pv in store.items("persistentvolumes")
            if not (pv.get("spec") or {}).get("claimRef") and (pv.get("status") or {}).get("phase") != "Released"
            and not mismatch(pv, claim) and matches_selector(selector, pv["metadata"].get("labels"))
            and (node is None or _node_matches(pv, node))]
    return sorted(fits, key=lambda pv: (storage_size(pv["spec"].get("capacity")), pv["metadata"]["name"]))


def _claim_problem(store: Store, namespace: str, name: str) -> str:
    claim = store.get("persistentvolumeclaims", namespace, name)
    if claim is None:
        return f'persistentvolumeclaim "{name}" not found'
    if (claim.get("status") or {}).get("phase") == "Lost":
        return (f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                f'"{(claim.get("spec") or {}).get("volumeName", "")}"')
    if claim["metadata"].get("deletionTimestamp"):
        return f'persistentvolumeclaim "{name}" is being deleted'
    return ""


def volume_unschedulable(engine: Engine, pod: Obj) -> str | None:
    """The VolumeBinding PreFilter verdict: why no node can take ``pod`` (unresolvable on every node), or None.

    The scheduler words its event ``0/N nodes are available: <this>. preemption: 0/N nodes are available: N
    Preemption is not helpful for scheduling.``
    """
    names = claim_names(pod)
    if not names:
        return None
    store, namespace = engine.store, pod["metadata"]["namespace"]
    for name in names:
        problem = _claim_problem(store, namespace, name)
        if problem:
            return problem
    for name in names:
        claim = store.get("persistentvolumeclaims", namespace, name) or {}
        if not (claim.get("spec") or {}).get("volumeName") and not _delay_binding(store, claim):
            return "pod has unbound immediate PersistentVolumeClaims"
    return None


def volume_node_reason(engine: Engine, pod: Obj, node: Obj) -> str | None:
    """The VolumeBinding Filter verdict for one node: a bound volume pinned elsewhere, or no volume to bind there."""
    store, namespace = engine.store, pod["metadata"]["namespace"]
    for name in claim_names(pod):
        claim = store.get("persistentvolumeclaims", namespace, name)
        if claim is None:
            continue
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            pv = store.get("persistentvolumes", "", volume_name)
            if pv is not None and not _node_matches(pv, node):
                return "node(s) had volume node affinity conflict"
        elif _delay_binding(store, claim) and not _candidates(store, claim, node):
            sc = store.get("storageclasses", "", claim_class(claim)) or {}
            if sc.get("provisioner") == "kubernetes.io/no-provisioner":
                return "node(s) didn't find available persistent volumes to bind"
    return None


class StorageController:
    """The PV controller with its protection finalizers, the scheduler's claim binding and the local-path
    provisioner, in one pass over claims then volumes. As kube's pvc-protection controller, only a scheduled pod
    holds a claim that is being deleted: a pod no node has taken never mounts it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store

    def run(self) -> None:
        claims, volumes = self.store.items("persistentvolumeclaims"), self.store.items("persistentvolumes")
        if not claims and not volumes:  # every cluster without storage: nothing to read, nothing to write
            return
        users: dict[tuple[str, str], list[Obj]] = {}
        for pod in self.store.items("pods"):
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                for name in claim_names(pod):
                    users.setdefault((pod["metadata"]["namespace"], name), []).append(pod)
        for claim in claims:
            key = (claim["metadata"]["namespace"], claim["metadata"]["name"])
            if claim["metadata"].get("deletionTimestamp"):
                if not any(p["spec"].get("nodeName") for p in users.get(key, [])) and \
                        PVC_PROTECTION in (claim["metadata"].get("finalizers") or []):
                    self._drop_finalizer("persistentvolumeclaims", claim, PVC_PROTECTION)
                continue
            self._sync_claim(claim, users.get(key, []))
        for pv in self.store.items("persistentvolumes"):
            self._sync_volume(pv)

    # ------------------------------------------------------------------------------------------------ claims
    def _sync_claim(self, claim: Obj, users: list[Obj]) -> None:
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            self._sync_requested(claim, volume_name)
            return
        mine = next((pv for pv in self.store.items("persistentvolumes")
                     if self._claimed_by(pv, claim) and not mismatch(pv, claim)), None)
        if mine is not None:
            self._bind(mine, claim)
            return
        store = self.store
        if not _delay_binding(store, claim):
            found = _candidates(store, claim, None)
            if found:
                self._bind(found[0], claim)
                return
        else:
            scheduled = next((p for p in users if p["spec"].get("nodeName")), None)
            if scheduled is None and not (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE):
                waiting = sorted(p["metadata"]["name"] for p in users)
                if waiting:
                    self._event(claim, "Normal", "WaitForPodScheduled",
                                f"waiting for pod{'s' if len(waiting) > 1 else ''} {','.join(waiting)} to be scheduled")
                else:
                    self._event(claim, "Normal", "WaitForFirstConsumer", WAIT_FIRST_CONSUMER)
                self._set_phase("persistentvolumeclaims", claim, "Pending")
                return
            if scheduled is not None:
                claim = self._select_node(claim, scheduled["spec"]["nodeName"])
                node = store.get("nodes", "", scheduled["spec"]["nodeName"])
                found = _candidates(store, claim, node) if node is not None else []
                if found:
                    self._bind(found[0], claim)
                    return
        self._provision(claim)

    def _provision(self, claim: Obj) -> None:
        name = claim_class(claim)
        if not name:
            self._event(claim, "Normal", "FailedBinding", NO_CLASS)
        else:
            sc = self.store.get("storageclasses", "", name)
            if sc is None:
                self._event(claim, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{name}" not found')
            else:
                claim = self._announce(claim, str(sc.get("provisioner", "")))
                if sc.get("provisioner") == LOCAL_PATH:
                    self._local_path(claim, sc)
                    return
        self._set_phase("persistentvolumeclaims", claim, "Pending")

    def _announce(self, claim: Obj, provisioner: str) -> Obj:
        """Hand the claim to its (external) provisioner: the annotations and event the PV controller writes."""
        annotations = claim["metadata"].get("annotations") or {}
        if all(annotations.get(key) == provisioner for key in PROVISIONER_ANNOTATIONS):
            return claim
        self._event(claim, "Normal", "ExternalProvisioning",
                    f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                    "manually by the system administrator. If volume creation is delayed, please verify that the "
                    "provisioner is running and correctly registered.")
        fresh = revised(claim)
        fresh["metadata"]["annotations"] = {**annotations, **{key: provisioner for key in PROVISIONER_ANNOTATIONS}}
        return self.store.put("persistentvolumeclaims", fresh)

    def _local_path(self, claim: Obj, sc: Obj) -> None:
        """kind's local-path-provisioner: a host directory on the selected node, pinned there."""
        meta, spec = claim["metadata"], claim.get("spec") or {}
        node = (meta.get("annotations") or {}).get(SELECTED_NODE)
        name = f"pvc-{meta['uid']}"
        if self.store.get("persistentvolumes", "", name) is not None:
            return
        self.engine.events.emit(claim, "Normal", "Provisioning", f'External provisioner is provisioning volume for '
                                f'claim "{meta["namespace"]}/{meta["name"]}"', LOCAL_PATH_IDENTITY)
        pv_spec: Obj = {
            "accessModes": list(spec.get("accessModes") or []),
            "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")},
            "claimRef": self._claim_ref(claim),
            "hostPath": {"path": f"/var/local-path-provisioner/{name}_{meta['namespace']}_{meta['name']}",
                         "type": "DirectoryOrCreate"}}
        if node:
            pv_spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
        pv_spec |= {"persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
                    "storageClassName": sc["metadata"]["name"], "volumeMode": spec.get("volumeMode", "Filesystem")}
        annotations = {"pv.kubernetes.io/provisioned-by": LOCAL_PATH} | (
            {"local.path.provisioner/selected-node": node} if node else {})
        pv = self.store.put("persistentvolumes", {
            "kind": "PersistentVolume", "apiVersion": "v1",
            "metadata": {"name": name, "uid": self.engine.uid(), "creationTimestamp": self.engine.stamp(),
                         "annotations": annotations, "finalizers": [PV_PROTECTION]},
            "spec": pv_spec, "status": {"phase": "Pending", "lastPhaseTransitionTime": self.engine.stamp()}})
        self._bind(pv, claim)
        self.engine.events.emit(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {name}",
                                LOCAL_PATH_IDENTITY)

    def _sync_requested(self, claim: Obj, volume_name: str) -> None:
        """A claim naming its volume (by the user, or bound earlier): finish, keep, or lose the binding."""
        pv = self.store.get("persistentvolumes", "", volume_name)
        phase = (claim.get("status") or {}).get("phase")
        if pv is None:
            if phase in ("Bound", "Lost"):
                self._event(claim, "Warning", "ClaimLost", CLAIM_LOST)
                self._set_phase("persistentvolumeclaims", claim, "Lost")
            else:
                self._set_phase("persistentvolumeclaims", claim, "Pending")
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref is None:
            why = mismatch(pv, claim)
            if why:
                self._event(claim, "Warning", "VolumeMismatch",
                            f'Cannot bind to requested volume "{volume_name}": {why}')
                self._set_phase("persistentvolumeclaims", claim, "Pending")
            else:
                self._bind(pv, claim)
        elif self._claimed_by(pv, claim):
            self._bind(pv, claim)
        else:
            self._event(claim, "Warning", "FailedBinding",
                        f'volume "{volume_name}" already bound to a different claim.')
            self._set_phase("persistentvolumeclaims", claim, "Pending")

    # ------------------------------------------------------------------------------------------------ volumes
    def _sync_volume(self, pv: Obj) -> None:
        meta, spec = pv["metadata"], pv.get("spec") or {}
        ref = spec.get("claimRef")
        claim = self.store.get("persistentvolumeclaims", ref.get("namespace", ""), ref.get("name", "")) \
            if ref else None
        if meta.get("deletionTimestamp"):
            if (pv.get("status") or {}).get("phase") != "Bound" and PV_PROTECTION in (meta.get("finalizers") or []):
                self._drop_finalizer("persistentvolumes", pv, PV_PROTECTION)
            return
        if ref is None or (claim is None and not ref.get("uid")):
            self._set_phase("persistentvolumes", pv, "Available")
        elif claim is not None and self._claimed_by(pv, claim):
            if (claim.get("spec") or {}).get("volumeName") == meta["name"]:
                self._set_phase("persistentvolumes", pv, "Bound")
        elif ref.get("uid"):
            self._release(pv)

    def _release(self, pv: Obj) -> None:
        """The claim is gone: Retain keeps the data (Released); Delete removes what local-path provisioned."""
        pv = self._set_phase("persistentvolumes", pv, "Released")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        if policy != "Delete":
            return
        if (pv["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by") == LOCAL_PATH:
            self.engine.api.delete(lookup("persistentvolumes"), "", pv["metadata"]["name"])
        else:
            self._event(pv, "Warning", "VolumeFailedDelete", f'error getting deleter volume plugin for volume '
                        f'"{pv["metadata"]["name"]}": no deletable volume plugin matched')

    # ------------------------------------------------------------------------------------------------ writes
    @staticmethod
    def _claimed_by(pv: Obj, claim: Obj) -> bool:
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        meta = claim["metadata"]
        return ref.get("name") == meta["name"] and ref.get("namespace") == meta["namespace"] and \
            ref.get("uid") in (None, "", meta["uid"])

    @staticmethod
    def _claim_ref(claim: Obj) -> Obj:
        meta = claim["metadata"]
        return {"kind": "PersistentVolumeClaim", "namespace": meta["namespace"], "name": meta["name"],
                "uid": meta["uid"], "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion", "")}

    def _bind(self, pv: Obj, claim: Obj) -> None:
        """Both halves of a binding, as the controller writes them: the volume's claimRef, then the claim."""
        if (pv.get("spec") or {}).get("claimRef", {}).get("uid") != claim["metadata"]["uid"]:
            fresh = revised(pv, spec=dict(pv.get("spec") or {}, claimRef=self._claim_ref(claim)))
            if not (pv.get("spec") or {}).get("claimRef"):
                fresh["metadata"]["annotations"] = {**(pv["metadata"].get("annotations") or {}),
                                                    BOUND_BY_CONTROLLER: "yes"}
            pv = self.store.put("persistentvolumes", fresh)
        pv = self._set_phase("persistentvolumes", pv, "Bound")
        spec = claim.get("spec") or {}
        annotations = dict(claim["metadata"].get("annotations") or {})
        annotations[BIND_COMPLETED] = "yes"
        if not spec.get("volumeName"):
            annotations[BOUND_BY_CONTROLLER] = "yes"
        status = {"phase": "Bound", "accessModes": list(pv["spec"].get("accessModes") or []),
                  "capacity": dict(pv["spec"].get("capacity") or {})}
        if spec.get("volumeName") == pv["metadata"]["name"] and claim["metadata"].get("annotations") == annotations \
                and claim.get("status") == status:
            return
        fresh = revised(claim, spec=dict(spec, volumeName=pv["metadata"]["name"]), status=status)
        fresh["metadata"]["annotations"] = annotations
        self.store.put("persistentvolumeclaims", fresh)

    def _select_node(self, claim: Obj, node: str) -> Obj:
        annotations = claim["metadata"].get("annotations") or {}
        if annotations.get(SELECTED_NODE) == node:
            return claim
        fresh = revised(claim)
        fresh["metadata"]["annotations"] = {**annotations, SELECTED_NODE: node}
        return self.store.put("persistentvolumeclaims", fresh)

    def _set_phase(self, plural: str, obj: Obj, phase: str) -> Obj:
        status = obj.get("status") or {}
        if status.get("phase") == phase:
            return obj
        fresh = dict(status, phase=phase)
        if plural == "persistentvolumes":
            fresh["lastPhaseTransitionTime"] = self.engine.stamp()
        return self.store.put(plural, revised(obj, status=fresh))

    def _drop_finalizer(self, plural: str, obj: Obj, finalizer: str) -> None:
        remaining = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
        if remaining:
            fresh = revised(obj)
            fresh["metadata"]["finalizers"] = remaining
            self.store.put(plural, fresh)
        else:
            self.store.remove(plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])

    def _event(self, obj: Obj, kind: str, reason: str, message: str) -> None:
        """Record an event the first time the object reaches this state."""
        key = (obj["metadata"]["uid"], "", kind, reason, message, COMPONENT)
        if key not in self.engine.events.index:
            self.engine.events.emit(obj, kind, reason, message, COMPONENT)
