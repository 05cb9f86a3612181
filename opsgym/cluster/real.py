"""What the kind and kubeconfig backends share: load an episode into a real cluster and take it away again.

An episode owns exactly one namespace (the task's rendered Namespace, labelled as opsgym's). ``load`` removes the
previous episode's namespace and the new one's if it lingers, creates the namespace, the agent's ServiceAccount and
Role, then the task's objects through the kubernetes Python client, writes the agent's kubeconfig with a fresh
token, and polls the ``ready`` predicate on wall-clock time. Namespace teardown plus re-apply takes seconds where
recreating a cluster takes a minute, and it never touches anything opsgym did not label as its own.

Time is the wall clock. ``advance(s)`` makes sure ``s`` seconds have passed since the previous call ended, counting
the time the agent already spent thinking, so a scripted agent gives rollouts the time the simulator's clock gives
them and an LLM agent is never slowed down.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from opsgym.cluster.access import (
    AGENT,
    MANAGED_LABELS,
    NAMESPACE_LABEL,
    agent_access_objects,
    agent_kubeconfig,
    cluster_entry,
    owned,
    write_kubeconfig,
)
from opsgym.cluster.base import ApiReader, Ready, Rollout, changes
from opsgym.cluster.cleanup import ExitCleanup, on_exit
from opsgym.cluster.manifests import check_objects
from opsgym.errors import (
    BackendUnavailableError,
    ClusterApiError,
    InfrastructureError,
    TaskSpecError,
    UnsafeClusterError,
)

__all__ = ["APPLY_ORDER", "ClientReader", "RealCluster", "apply_order", "flag", "pod_summary"]

APPLY_ORDER = ("Namespace", "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Secret",
               "ConfigMap", "PersistentVolumeClaim", "Service")
"""Kinds created before the rest, so pods never start before what they mount or bind to exists."""

WAITING_HINTS = {
    "ErrImagePull": "the node cannot pull the image: check the image name and that the cluster can reach the "
                    "registry (the kind backend loads the images listed in the app's app.yaml `images`)",
    "ImagePullBackOff": "the node gave up pulling the image for now (see ErrImagePull)",
    "CreateContainerConfigError": "a ConfigMap/Secret key the container reads is missing",
}


def flag(value: bool | str) -> bool:
    """A boolean option from code or from the command line (``--backend-option keep=true``)."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def apply_order(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``objects`` sorted so dependencies come first (stable: otherwise the task's own order)."""
    rank = {kind: i for i, kind in enumerate(APPLY_ORDER)}
    return sorted(objects, key=lambda o: rank.get(str(o.get("kind")), len(APPLY_ORDER)))


def _status_message(body: str | None, fallback: str) -> str:
    """The ``message`` of a Kubernetes Status body (JSON is YAML), else ``fallback``."""
    try:
        return str(yaml.safe_load(body or "{}").get("message") or fallback)
    except (yaml.YAMLError, AttributeError):
        return fallback


def _reason(exc: ApiException) -> str:
    return _status_message(exc.body, str(exc.reason))


class ClientReader:
    """:class:`~opsgym.cluster.base.ApiReader` over a kubernetes ``ApiClient``: its host, TLS and credentials.

    Raw JSON through ``ApiClient.call_api`` rather than the generated ``CoreV1Api``/``AppsV1Api``: no model
    deserialisation (field paths stay those of manifests), and no import of the generated classes (~0.6 s).
    """

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self.api = api_client

    def get(self, path: str) -> dict[str, Any] | None:
        method, url, headers, _, _ = self.api.param_serialize(
            "GET", path, header_params={"Accept": "application/json"}, auth_settings=["BearerToken"])
        response = self.api.call_api(method, url, header_params=headers)
        response.read()
        if response.status == 404:
            return None
        if not 200 <= response.status <= 299:
            body = (response.data or b"").decode(errors="replace")
            message = _status_message(body, body)
            raise ClusterApiError(f"GET {path} answered {response.status}: {message[:500]}", response.status)
        return json.loads(response.data or b"")


def pod_summary(api_client: k8s.ApiClient, namespace: str) -> str:
    """One line per pod (phase, each container's waiting/terminated reason, a hint), for timeout messages."""
    try:
        pods = k8s.CoreV1Api(api_client).list_namespaced_pod(namespace).items
    except ApiException as exc:
        return f"(cannot list pods: {_reason(exc)})"
    lines = []
    for pod in pods:
        states = []
        for status in (pod.status.container_statuses or []) if pod.status else []:
            state = status.state
            reason = ((state and state.waiting and state.waiting.reason)
                      or (state and state.terminated and state.terminated.reason) or "")
            hint = WAITING_HINTS.get(reason, "")
            states.append(f"{status.name}={reason or 'running'} (restarts {status.restart_count})"
                          + (f": {hint}" if hint else ""))
        phase = pod.status.phase if pod.status else "?"
        name = pod.metadata.name if pod.metadata else "?"
        lines.append(f"  {name}: {phase} {'; '.join(states)}".rstrip())
    return "\n".join(lines) or "  (no pods)"


class RealCluster:
    """Base of the real backends; subclasses say how to reach the cluster (:meth:`_open`) and how to let go.

    Args:
        workdir: where the agent's kubeconfig is written (a private temporary folder by default).
        token_ttl_s: lifetime of the agent's ServiceAccount token (the API server may shorten it).
        poll_s: how often ``ready`` and namespace deletion are polled.
        teardown_timeout_s: how long a namespace may take to disappear.
    """

    name = "real"
    virtual_time = False
    cluster_read = False
    """Whether the agent may also read cluster-wide (only on clusters opsgym owns)."""

    def __init__(self, *, workdir: str | Path | None = None, token_ttl_s: int = 6 * 3600, poll_s: float = 1.0,
                 teardown_timeout_s: float = 300.0) -> None:
        self._workdir = Path(workdir) if workdir else None
        self._own_workdir = workdir is None
        self.token_ttl_s, self.poll_s, self.teardown_timeout_s = int(token_ttl_s), float(poll_s), teardown_timeout_s
        self._admin: k8s.ApiClient | None = None
        self._cluster: dict[str, Any] = {}
        self._config_dir: Path | None = None
        self._dynamic: Any = None
        self._namespaces: list[str] = []
        self._mark = time.monotonic()
        self._exit: ExitCleanup | None = None
        self.timings: dict[str, float] = {}
        """Seconds spent in the last :meth:`load`'s phases (teardown, prepare, apply, ready), for benchmarks."""

    # ------------------------------------------------------------------ what subclasses provide
    def _open(self) -> tuple[Path, str | None]:
        """Reach the cluster; return an admin kubeconfig and the context to use in it."""
        raise BackendUnavailableError(f"{type(self).__name__} does not say how to reach its cluster")

    def _prepare(self, objects: list[dict[str, Any]]) -> None:
        """Anything the cluster needs before the objects are created (kind: load their images)."""

    def _stop(self) -> None:
        """Let go of the cluster after the namespaces are gone (kind: maybe delete it)."""

    # ------------------------------------------------------------------ ClusterBackend
    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"opsgym-{self.name}-"))
        return self._workdir

    @property
    def kubeconfig(self) -> Path:
        """The agent's kubeconfig: its ServiceAccount token, valid in the current episode's namespace only."""
        return self.workdir / "agent.kubeconfig"

    def start(self) -> None:
        if self._admin is not None:
            return
        self._exit = on_exit(self.close)
        try:
            self._connect(*self._open())
        except BaseException:
            self.close()
            raise

    def _connect(self, path: Path, context: str | None) -> None:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        try:
            _, _, self._cluster = cluster_entry(config, context)
        except KeyError as exc:
            raise BackendUnavailableError(f"{path}: {exc.args[0]}") from None
        self._config_dir = path.parent
        admin = k8s_config.new_client_from_config(config_file=str(path), context=context, persist_config=False)
        try:
            k8s.VersionApi(admin).get_code(_request_timeout=15)
        except Exception as exc:  # urllib3 raises many kinds; all mean "not reachable"
            admin.close()
            raise BackendUnavailableError(f"the cluster at {self._cluster.get('server')} does not answer ({exc}); "
                                          "check that it is running and the kubeconfig/context is right") from None
        self._admin = admin

    def api_client(self) -> k8s.ApiClient:
        if self._admin is None:
            raise InfrastructureError(f"the {self.name} backend is not started: call start() first")
        return self._admin

    def reader(self) -> ApiReader:
        return ClientReader(self.api_client())

    def load(self, key: str, objects: Callable[[], list[dict[str, Any]]], *, ready: Ready | None = None,
             timeout_s: float = 600.0, rollout: Rollout | None = None,
             traffic: Mapping[str, float] | None = None) -> None:
        self.api_client()  # raises when not started
        if traffic:
            raise BackendUnavailableError(f"{key}: the scenario offers outside traffic ({dict(traffic)} requests/s), "
                                          f"and the {self.name} backend has no load generator; run it on the "
                                          "embedded cluster (backend sim)")
        rendered = objects()
        check_objects(rendered, what=key, lint=rollout is not None)  # a fault may be what never gets ready
        if rollout is not None:
            check_objects(rollout.objects(), what=f"{key} (its rollout)", lint=False)
        namespaces = [o["metadata"]["name"] for o in rendered if o.get("kind") == "Namespace"]
        if len(namespaces) != 1:
            raise TaskSpecError(f"{key}: a real cluster episode needs exactly one Namespace object, got {namespaces}")
        namespace = namespaces[0]
        t0 = time.monotonic()
        for old in dict.fromkeys([*self._namespaces, namespace]):
            self.teardown_namespace(old)
        self._namespaces = [namespace]
        t1 = time.monotonic()
        self._prepare(rendered)
        t2 = time.monotonic()
        labelled = copy.deepcopy(rendered)
        for obj in labelled:
            if obj["kind"] == "Namespace":
                obj["metadata"].setdefault("labels", {}).update(MANAGED_LABELS)
        for obj in apply_order([*labelled, *self.access_objects(namespace)]):
            self.create(obj)
        write_kubeconfig(self.kubeconfig, agent_kubeconfig(self._cluster, self.agent_token(namespace),
                                                           base=self._config_dir))
        t3 = time.monotonic()
        if rollout is not None:
            self.wait(rollout.settled, namespace, timeout_s, key)
            self.roll_out(rendered, rollout.objects())
        self.wait(ready, namespace, timeout_s, key)
        t4 = time.monotonic()
        self.timings = {"teardown_s": t1 - t0, "prepare_s": t2 - t1, "apply_s": t3 - t2, "ready_s": t4 - t3}
        self._mark = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Sleep until ``seconds`` have passed since the previous advance (or load) ended."""
        target = self._mark + max(0.0, seconds)
        remaining = target - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        self._mark = max(target, time.monotonic())

    def now(self) -> float:
        return time.time()

    def close(self) -> None:
        """Delete the episode's namespace, then let go of the cluster; safe to call twice and at exit."""
        if self._exit is not None:
            self._exit.cancel()
            self._exit = None
        try:
            if self._admin is not None:
                for namespace in self._namespaces:
                    try:
                        self.teardown_namespace(namespace)
                    except (InfrastructureError, UnsafeClusterError, ApiException) as exc:
                        warnings.warn(f"{self.name}: could not delete namespace {namespace}: {exc}", stacklevel=2)
                self._namespaces = []
                self._admin.close()
                self._admin = None
                self._dynamic = None
            self._stop()
        finally:
            if self._own_workdir and self._workdir is not None:
                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    # ------------------------------------------------------------------ building blocks (also used by tests)
    def _resource(self, obj: dict[str, Any]) -> Any:
        """The dynamic client's resource for ``obj``'s apiVersion and kind (discovery runs once per backend)."""
        from kubernetes.dynamic import DynamicClient
        from kubernetes.dynamic.exceptions import ResourceNotFoundError

        if self._dynamic is None:
            self._dynamic = DynamicClient(self.api_client())
        try:
            return self._dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        except ResourceNotFoundError:
            raise BackendUnavailableError(f"the cluster does not serve {obj['apiVersion']} {obj['kind']}, which the "
                                          f"episode needs (for {obj['metadata']['name']})") from None

    def create(self, obj: dict[str, Any]) -> None:
        """Create one object; an opsgym-labelled cluster-scoped object that already exists is updated instead."""
        kind, meta = obj["kind"], obj["metadata"]
        resource = self._resource(obj)
        namespace = meta.get("namespace") if resource.namespaced else None
        try:
            resource.create(body=obj, namespace=namespace)
        except ApiException as exc:
            if exc.status == 409 and not resource.namespaced and owned(meta.get("labels")):
                resource.patch(body=obj, name=meta["name"], content_type="application/merge-patch+json")
                return
            raise InfrastructureError(f"creating {kind} {meta['name']!r}"
                                      f"{f' in {namespace}' if namespace else ''} failed: {_reason(exc)}") from None

    def roll_out(self, before: list[dict[str, Any]], after: list[dict[str, Any]]) -> None:
        """Change the episode's objects into ``after`` as a deploy would: replace what differs (a Deployment rolls
        out a new ReplicaSet), create what is new, delete what is gone."""
        replaced, created, deleted = changes(before, after)
        for obj in replaced:
            resource = self._resource(obj)
            meta = obj["metadata"]
            namespace = meta.get("namespace") if resource.namespaced else None
            try:
                live = resource.get(name=meta["name"], namespace=namespace)
                body = copy.deepcopy(obj)
                body["metadata"]["resourceVersion"] = live.metadata.resourceVersion
                resource.replace(body=body, name=meta["name"], namespace=namespace)
            except ApiException as exc:
                raise InfrastructureError(f"rolling out {obj['kind']} {meta['name']!r} failed: {_reason(exc)}") \
                    from None
        for obj in created:
            self.create(obj)
        for obj in deleted:
            self.delete(obj)

    def delete(self, obj: dict[str, Any]) -> bool:
        """Delete one object if it exists (returns whether it did)."""
        resource = self._resource(obj)
        namespace = obj["metadata"].get("namespace") if resource.namespaced else None
        try:
            resource.delete(name=obj["metadata"]["name"], namespace=namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise InfrastructureError(f"deleting {obj['kind']} {obj['metadata']['name']!r} failed: "
                                      f"{_reason(exc)}") from None
        return True

    def access_objects(self, namespace: str) -> list[dict[str, Any]]:
        """The agent's ServiceAccount, Role and bindings for ``namespace`` (see :mod:`opsgym.cluster.access`)."""
        return agent_access_objects(namespace, cluster_read=self.cluster_read)

    def agent_token(self, namespace: str) -> str:
        """A fresh token of the agent's ServiceAccount (TokenRequest API: short-lived, never stored in a Secret)."""
        request = k8s.AuthenticationV1TokenRequest(
            spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=self.token_ttl_s))
        try:
            answer = k8s.CoreV1Api(self.api_client()).create_namespaced_service_account_token(AGENT, namespace,
                                                                                             request)
        except ApiException as exc:
            raise BackendUnavailableError(f"the cluster cannot issue a token for ServiceAccount {namespace}/{AGENT} "
                                          f"({exc.status}: {_reason(exc)}); the TokenRequest API needs Kubernetes "
                                          "1.22 or later") from None
        return str(answer.status.token if answer.status else None)

    def teardown_namespace(self, namespace: str) -> bool:
        """Delete an opsgym namespace (and its cluster-wide bindings) and wait until it is gone.

        Returns whether there was one. Raises :class:`UnsafeClusterError` for a namespace opsgym did not label.
        """
        core = k8s.CoreV1Api(self.api_client())
        try:
            found = core.read_namespace(namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise InfrastructureError(f"cannot read namespace {namespace}: {_reason(exc)}") from None
        if not owned(found.metadata.labels if found.metadata else None):
            raise UnsafeClusterError(
                f"namespace {namespace!r} exists and was not created by opsgym (no label "
                f"{next(iter(MANAGED_LABELS))}=opsgym), so opsgym will not replace it. Delete it yourself or run "
                "against a cluster where that namespace is free.")
        for obj in self.access_objects(namespace):  # cluster-wide objects that exist for this namespace only
            if NAMESPACE_LABEL in obj["metadata"].get("labels", {}):
                self.delete(obj)
        if found.status is None or found.status.phase != "Terminating":
            try:  # pods first with no grace period: a namespace otherwise waits ~30 s per pod for SIGTERM
                core.delete_collection_namespaced_pod(namespace, grace_period_seconds=0)
            except ApiException as exc:
                warnings.warn(f"could not delete pods of {namespace} at once ({_reason(exc)})", stacklevel=2)
            core.delete_namespace(namespace, propagation_policy="Background")
        deadline = time.monotonic() + self.teardown_timeout_s
        while time.monotonic() < deadline:
            try:
                core.read_namespace(namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise
            time.sleep(self.poll_s)
        raise InfrastructureError(f"namespace {namespace} was still terminating after {self.teardown_timeout_s:g} s; "
                                  f"look at `kubectl get namespace {namespace} -o yaml` (finalizers, conditions)")

    def wait(self, ready: Ready | None, namespace: str, timeout_s: float, key: str = "") -> None:
        """Poll ``ready`` until it holds; on timeout, raise with what the namespace's pods are doing."""
        if ready is None:
            return
        deadline = time.monotonic() + timeout_s
        last_error = ""
        while True:
            try:
                if ready(self.reader()):
                    return
            except ClusterApiError as exc:
                last_error = f" (last API error: {exc})"
            if time.monotonic() >= deadline:
                raise InfrastructureError(
                    f"{key or namespace}: the fault did not become observable within {timeout_s:g} s{last_error}. "
                    f"Pods in {namespace}:\n{pod_summary(self.api_client(), namespace)}")
            time.sleep(self.poll_s)
