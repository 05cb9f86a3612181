"""REST semantics of the API server, independent of HTTP: create, read, update, patch and delete with the
metadata rules, dry runs, preconditions, subresources and deletion protocol (finalizers, graceful pod deletion,
propagation policies) that kubectl and controllers rely on.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.claim_updates import check_resize
from opsgym.cluster.sim.defaults import apply_defaults, replicas_error, validate
from opsgym.cluster.sim.patch import apply_patch
from opsgym.cluster.sim.schema import decode
from opsgym.cluster.sim.selectors import field_selector, label_selector
from opsgym.cluster.sim.status import ApiError, status_object
from opsgym.cluster.sim.storage_kinds import admit as admit_storage
from opsgym.cluster.sim.system import draw_suffix, draw_uid, mount_token
from opsgym.cluster.sim.workload_specs import KINDS as WORKLOAD_KINDS
from opsgym.cluster.sim.workload_specs import prepare_job
from opsgym.k8s.kinds import Kind
from opsgym.k8s.selectors import selector_string

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["Api"]

Obj = dict[str, Any]
Admitted = tuple[Obj, list[str]]
"""An object as stored, and the warnings to send with it (named here: inside :class:`Api`, ``list`` is its method)."""
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                 "generation", "managedFields", "selfLink")
CONFLICT = "the object has been modified; please apply your changes to the latest version and try again"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
"""The pod-template annotation ``kubectl rollout restart`` sets to the client's clock (see ``_stamp_restart``)."""


def _qos(spec: Obj) -> str:
    containers = spec.get("containers") or []
    limits = [(c.get("resources") or {}).get("limits") or {} for c in containers]
    requests = [(c.get("resources") or {}).get("requests") or {} for c in containers]
    if not any(limits) and not any(requests):
        return "BestEffort"
    guaranteed = all(lim.get("cpu") and lim.get("memory") and (not req or req == lim)
                     for lim, req in zip(limits, requests, strict=True))
    return "Guaranteed" if guaranteed else "Burstable"


def _delete_options(options: Any) -> Obj:
    """Check a DeleteOptions body (wrong types are a 400, an unknown policy a 422, as on a real server)."""
    options = options or {}
    grace, pre = options.get("gracePeriodSeconds"), options.get("preconditions")
    if not isinstance(options, dict) or (grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)))\
            or (pre is not None and not isinstance(pre, dict)):
        raise ApiError.bad_request("DeleteOptions: gracePeriodSeconds must be an integer and preconditions an object")
    policy = options.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise ApiError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value:'
                       f' "{policy}": supported values: "Foreground", "Background", "Orphan"')
    return options


class Api:
    """The verbs on one cluster's store; every method runs under the store lock (the caller holds it)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.store = engine.store

    # ------------------------------------------------------------------------------------------------ reads
    def get(self, rt: Kind, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt.plural, namespace if rt.namespaced else "", name)
        if obj is None:
            raise ApiError.not_found(rt.qualified, name, rt.group)
        return obj

    def list(self, rt: Kind, namespace: str | None, labels: str | None = None,
             fields: str | None = None) -> list[Obj]:
        by_label, by_field = label_selector(labels), field_selector(fields, rt.plural)
        return [o for o in self.store.items(rt.plural, namespace if rt.namespaced else None)
                if by_label(o) and by_field(o)]

    def scale(self, rt: Kind, obj: Obj) -> Obj:
        meta = obj["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                           "selector": selector_string((obj.get("spec") or {}).get("selector"))}}

    # ------------------------------------------------------------------------------------------------ create
    def _check_namespace(self, rt: Kind, namespace: str, name: str) -> None:
        if not rt.namespaced:
            return
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            raise ApiError.not_found("namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError.forbidden(rt.qualified, name, f"unable to create new content in namespace {namespace} "
                                     "because it is being terminated")

    def _admit(self, rt: Kind, body: Any, namespace: str, validation: str) -> Admitted:
        obj, warnings = decode(rt.kind, body, validation)
        if obj.get("kind", rt.kind) != rt.kind or obj.get("apiVersion", rt.api_version) != rt.api_version:
            raise ApiError.bad_request(f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                                       f"expected API version ({rt.api_version}) or kind {obj.get('kind')!r} is "
                                       f"not {rt.kind!r}")
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError.bad_request("the namespace of the provided object does not match the namespace sent "
                                           "on the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        return obj, warnings

    def create(self, rt: Kind, namespace: str, body: Any, *, dry_run: bool = False,
               validation: str = "Strict") -> Admitted:
        obj, warnings = self._admit(rt, body, namespace, validation)
        meta = obj["metadata"]
        for key in SERVER_FIELDS:
            meta.pop(key, None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + draw_suffix(self.engine, rt.plural, meta)
        self._check_namespace(rt, namespace, meta.get("name") or "")
        if meta.get("name") and self.store.get(rt.plural, meta.get("namespace", ""), meta["name"]):
            raise ApiError.already_exists(rt.qualified, meta["name"], rt.group)
        apply_defaults(rt, obj)
        warnings += self.engine.policy.admit(rt, obj, dry_run)
        validate(rt, obj)
        self._reset_status(rt, obj)
        admit_storage(self.engine, rt.plural, obj)
        meta["uid"] = draw_uid(self.engine, rt.plural, meta)
        mount_token(self.engine, rt.plural, obj)
        if rt.plural == "jobs":
            prepare_job(obj)
        meta["creationTimestamp"] = self.engine.stamp()
        if rt.generation:
            meta["generation"] = 1
        if rt.plural == "services":
            self.engine.allocate_service(obj)
        if dry_run:
            meta["resourceVersion"] = str(self.store.revision)
            return obj, warnings
        return self.store.put(rt.plural, obj), warnings

    def _reset_status(self, rt: Kind, obj: Obj) -> None:
        if rt.plural == "pods":
            obj["status"] = {"phase": "Pending", "qosClass": _qos(obj["spec"])}
        elif rt.plural in ("deployments", "replicasets", "ingresses", *WORKLOAD_KINDS):
            obj["status"] = {}

    # ------------------------------------------------------------------------------------------------ update
    def update(self, rt: Kind, namespace: str, name: str, body: Any, *, subresource: str = "",
               dry_run: bool = False, validation: str = "Strict") -> Admitted:
        old = self.get(rt, namespace, name)
        if subresource == "scale":
            return self._update_scale(rt, old, body, dry_run), []
        obj, warnings = self._admit(rt, body, namespace, validation)
        meta = obj["metadata"]
        if meta.get("name", name) != name:
            raise ApiError.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on the "
                                       f"URL ({name})")
        meta["name"] = name
        if meta.get("resourceVersion") and meta["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rt.qualified, name, CONFLICT)
        if meta.get("uid") and meta["uid"] != old["metadata"]["uid"]:
            raise ApiError.conflict(rt.qualified, name, f"Precondition failed: UID in precondition: {meta['uid']}, "
                                    f"UID in object meta: {old['metadata']['uid']}")
        for key in SERVER_FIELDS:
            meta.pop(key, None)
            if key in old["metadata"] and key != "resourceVersion":
                meta[key] = old["metadata"][key]
        if subresource == "status":
            obj = dict(copy.deepcopy(old), status=obj.get("status", {}))
        elif "status" in rt.subresources:
            obj["status"] = copy.deepcopy(old.get("status", {}))
        if rt.plural == "services":
            spec, old_spec = obj.setdefault("spec", {}), old.get("spec") or {}
            for key in ("clusterIP", "clusterIPs"):
                if key in old_spec and not spec.get(key):
                    spec[key] = copy.deepcopy(old_spec[key])
        self._stamp_restart(obj, old)
        apply_defaults(rt, obj)
        validate(rt, obj, old)
        check_resize(self.engine.store, rt.plural, obj, old)
        self.engine.policy.check_update(rt, obj)
        if rt.generation and obj.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        if obj == old:  # as the API server: a write that changes nothing is skipped (no new version, no event)
            return copy.deepcopy(old), warnings
        return self._write(rt, obj, dry_run), warnings

    def _stamp_restart(self, obj: Obj, old: Obj) -> None:
        """Put a new ``kubectl rollout restart`` stamp on the virtual clock.

        kubectl writes the host's wall-clock time into the pod template, so the new ReplicaSet's pod-template-hash,
        and every pod name shown after a restart, would differ between two runs of one seed (and the stamp would sit
        outside the simulated timeline). A real API server receives the client's clock, which agrees with its own;
        here the cluster's clock is the virtual one, so the stamp is set to it.
        """
        template = (obj.get("spec") or {}).get("template")
        annotations = ((template or {}).get("metadata") or {}).get("annotations")
        if not isinstance(annotations, dict) or RESTARTED_AT not in annotations:
            return
        before = (((old.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations") or {}
        if annotations[RESTARTED_AT] != before.get(RESTARTED_AT):
            annotations[RESTARTED_AT] = self.engine.stamp()

    def _update_scale(self, rt: Kind, old: Obj, body: Any, dry_run: bool) -> Obj:
        if "scale" not in rt.subresources:
            raise ApiError.path_not_found()
        scale, _ = decode("Scale", body)
        wanted = (scale.get("spec") or {}).get("replicas")
        version = (scale.get("metadata") or {}).get("resourceVersion")
        if version and version != old["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rt.qualified, old["metadata"]["name"], CONFLICT)
        if not isinstance(wanted, int):
            raise ApiError.invalid("Scale.autoscaling", old["metadata"]["name"], [])
        problem = replicas_error(wanted)
        if problem is not None:
            raise ApiError.invalid("Scale.autoscaling", old["metadata"]["name"], [problem])
        obj = copy.deepcopy(old)
        if obj["spec"].get("replicas") != wanted:
            obj["spec"]["replicas"] = wanted
            obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
            obj = self._write(rt, obj, dry_run)
        return self.scale(rt, obj)

    def _write(self, rt: Kind, obj: Obj, dry_run: bool) -> Obj:
        meta = obj["metadata"]
        if dry_run:
            return obj
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self.store.remove(rt.plural, meta.get("namespace", ""), meta["name"]) or obj
        return self.store.put(rt.plural, obj)

    # ------------------------------------------------------------------------------------------------ patch
    def patch(self, rt: Kind, namespace: str, name: str, kind: str, body: Any, *, subresource: str = "",
              dry_run: bool = False, validation: str = "Strict") -> Admitted:
        if kind == "apply" and self.store.get(rt.plural, namespace if rt.namespaced else "", name) is None:
            if isinstance(body, dict):
                body.setdefault("metadata", {}).setdefault("name", name)
            return self.create(rt, namespace, body, dry_run=dry_run, validation=validation)
        old = self.get(rt, namespace, name)
        if subresource == "scale":
            return self._update_scale(rt, old, apply_patch(kind, self.scale(rt, old), body), dry_run), []
        patched = apply_patch(kind, old, body)
        if patched.get("metadata", {}).get("resourceVersion") == old["metadata"]["resourceVersion"]:
            patched["metadata"].pop("resourceVersion")
        return self.update(rt, namespace, name, patched, subresource=subresource, dry_run=dry_run,
                           validation=validation)

    # ------------------------------------------------------------------------------------------------ delete
    def delete(self, rt: Kind, namespace: str, name: str, options: Obj | None = None, *,
               dry_run: bool = False) -> Obj:
        options = _delete_options(options)
        old = self.get(rt, namespace, name)
        meta = old["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            raise ApiError.conflict(rt.qualified, name, f"Precondition failed: UID in precondition: {pre['uid']}, "
                                    f"UID in object meta: {meta['uid']}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            raise ApiError.conflict(rt.qualified, name, CONFLICT)
        if dry_run:
            return old
        obj = copy.deepcopy(old)
        meta = obj["metadata"]
        policy = options.get("propagationPolicy") or ("Orphan" if options.get("orphanDependents") else "Background")
        finalizers = list(meta.get("finalizers") or [])
        if policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        grace = options.get("gracePeriodSeconds")
        if rt.plural == "pods" and grace != 0 and (obj.get("spec") or {}).get("nodeName"):
            grace = grace if grace is not None else obj["spec"].get("terminationGracePeriodSeconds", 30)
            finalizers_pending = True
        else:
            finalizers_pending = bool(finalizers) or rt.plural == "namespaces"
        if not finalizers_pending:
            removed = self.store.remove(rt.plural, meta.get("namespace", ""), name)
            if rt.plural == "pods":
                return removed or old
            return status_object(200, "", "", {"name": name, "group": rt.group, "kind": rt.plural,
                                               "uid": meta["uid"]})
        if meta.get("deletionTimestamp"):
            if finalizers != list(meta.get("finalizers") or []):
                meta["finalizers"] = finalizers
                return self.store.put(rt.plural, obj)
            return old
        meta["deletionTimestamp"] = self.engine.stamp(self.engine.clock.now + (grace or 0))
        meta["deletionGracePeriodSeconds"] = int(grace or 0)
        if finalizers:
            meta["finalizers"] = finalizers
        if rt.plural == "namespaces":
            obj.setdefault("status", {})["phase"] = "Terminating"
        return self.store.put(rt.plural, obj)
