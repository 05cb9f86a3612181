"""Request routing: URL + verb → discovery document, Api call, Table, logs, or a watch plan.

Kept free of HTTP plumbing so every branch is a plain function of a :class:`Call`, run under the cluster lock.
Bodies come as JSON or YAML, or as protobuf from kubectl's typed generators (decoded to the same JSON by
protobuf.py); any other media type gets a 415.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from opsgym.cluster.sim import hpa_v1, kinds, metrics, openapi, protobuf, rbac, reviews
from opsgym.cluster.sim.disruption import evict
from opsgym.cluster.sim.kinds import BY_PATH
from opsgym.cluster.sim.patch import PATCH_TYPES
from opsgym.cluster.sim.podstatus import container_logs
from opsgym.cluster.sim.selectors import field_selector, label_selector
from opsgym.cluster.sim.status import ApiError
from opsgym.cluster.sim.tables import table
from opsgym.k8s.kinds import Kind

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["Call", "Reply", "WatchPlan", "route"]

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "opsgym-sim", "gitTreeState": "clean",
           "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}
STREAMING = {"exec": "exec", "attach": "attach", "portforward": "port-forward", "proxy": "proxy"}


@dataclass
class Call:
    """One HTTP request, reduced to what routing needs."""

    method: str
    segments: list[str]
    query: Mapping[str, str]
    content_type: str = ""
    accept: str = ""
    body: bytes = b""
    user: rbac.User | None = None
    """Who asks (None: the cluster's own code); anyone but the admin is authorized by RBAC first."""


@dataclass
class Reply:
    status: int
    body: Any
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    mutated: bool = False


@dataclass
class WatchPlan:
    """A watch to stream: what to watch, filters, and how to render events."""

    rt: Kind
    namespace: str | None
    since: int | None
    labels: Any
    fields: Any
    as_table: bool
    timeout_s: float

    def _matches(self, obj: dict[str, Any] | None) -> bool:
        return obj is not None and self.labels(obj) and self.fields(obj)

    def selected(self, kind: str, obj: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
        """The event type this watch sends for a store event, or None to skip it. As on a real API server, a filtered
        watch sees an object ADDED when a change brings it into the selection and DELETED when a change takes it out
        (e.g. a pod relabelled away from ``-l app=web``)."""
        now, before = self._matches(obj), kind == "MODIFIED" and self._matches(previous)
        if kind != "MODIFIED":
            return kind if now else None
        if now:
            return "MODIFIED" if before else "ADDED"
        return "DELETED" if before else None


def _body(call: Call, rt_kind: str = "") -> Any:
    content_type = call.content_type.split(";")[0].strip().lower()
    if content_type == protobuf.MEDIA_TYPE:
        return protobuf.request_object(call.body, rt_kind or "DeleteOptions")
    if content_type not in ("", "application/json", "application/yaml", *PATCH_TYPES):
        raise ApiError.unsupported_media(content_type)
    text = call.body.decode("utf-8", errors="replace")
    if not text.strip():
        raise ApiError.bad_request("the request body is empty; send a JSON or YAML object")
    try:
        if content_type in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError.bad_request(f"couldn't decode the request body: {exc}") from exc


def _number(query: Mapping[str, str], name: str) -> int | None:
    """An integer query parameter, None when absent; a 400 when it is not a number (as the server's decoder)."""
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError.bad_request(f'invalid value for {name}: "{text}" is not an integer') from None


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("1", "true")


def _discovery(call: Call) -> Reply | None:
    seg = call.segments
    doc: Any = None
    if seg == ["version"]:
        doc = VERSION
    elif seg and seg[0] in ("healthz", "livez", "readyz"):
        return Reply(200, "ok", "text/plain")
    elif seg == ["api"]:
        doc = {"kind": "APIVersions", "versions": ["v1"],
               "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    elif seg == ["api", "v1"]:
        doc = kinds.api_resource_list("", "v1")
    elif seg == ["apis"]:
        doc = kinds.api_group_list()
    elif len(seg) == 2 and seg[0] == "apis":
        doc = kinds.api_group(seg[1])
    elif len(seg) == 3 and seg[0] == "apis":
        doc = kinds.api_resource_list(seg[1], seg[2])
    elif seg[:2] == ["openapi", "v3"]:
        if len(seg) == 2:
            doc = openapi.openapi_root()
        elif seg[2] == "api" and len(seg) == 4:
            doc = openapi.openapi_document("", seg[3])
        elif seg[2] == "apis" and len(seg) == 5:
            doc = openapi.openapi_document(seg[3], seg[4])
    elif seg[:2] == ["openapi", "v2"]:
        # An empty protobuf Document: kubectl's fallback validator then finds no schema and the kind lookup, not
        # a download error, decides what an unknown kind reports.
        return Reply(200, b"", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
    else:
        return None
    if doc is None:
        raise ApiError.path_not_found()
    return Reply(200, doc)


def _target(segments: list[str]) -> tuple[Kind, str | None, str | None, str]:
    """(resource, namespace, name, subresource) from ``/api/v1/...`` or ``/apis/G/V/...`` segments."""
    if segments[0] == "api" and len(segments) >= 3 and segments[1] == "v1":
        group, version, rest = "", "v1", segments[2:]
    elif segments[0] == "apis" and len(segments) >= 4:
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        raise ApiError.path_not_found()
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise ApiError.path_not_found()
    rt = BY_PATH.get((group, version, rest[0]))
    if rt is None or (namespace is not None and not rt.namespaced):
        raise ApiError.path_not_found()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if name is not None and rt.namespaced and namespace is None:
        raise ApiError.path_not_found()
    if sub and sub not in rt.subresources:
        raise ApiError.path_not_found()
    return rt, namespace, name, sub


def _authorize(engine: Engine, call: Call) -> None:
    if call.user is not None and call.user is not rbac.ADMIN:
        attrs = rbac.attributes(call.method, call.segments, call.query)
        allowed, reason = rbac.authorize(engine.store, call.user, attrs)
        if not allowed:
            raise rbac.forbidden(call.user, attrs, reason)


def route(engine: Engine, call: Call) -> Reply | WatchPlan:
    """Answer ``call`` against ``engine`` (the caller holds the engine lock)."""
    engine.policy.requester = call.user
    try:
        _authorize(engine, call)
        review = reviews.answer(engine, call.method, call.segments, call.user, lambda: _body(call))
        if review is not None:
            return Reply(201, review)
        reply = _discovery(call)
        served = metrics.answer(engine, call.method, call.segments, call.query) if reply is None else None
        if served is not None:
            return Reply(200, served)
        if reply is None and call.segments[:3] == hpa_v1.PREFIX:
            return hpa_v1.route(engine, call, _resource, _body)
        return reply if reply is not None else _resource(engine, call)
    except ApiError as exc:
        return Reply(exc.code, exc.status())
    finally:
        engine.policy.requester = None


def _resource(engine: Engine, call: Call) -> Reply | WatchPlan:
    rt, namespace, name, sub = _target(call.segments)
    query, api = call.query, engine.api
    ns = namespace or ""
    dry_run = query.get("dryRun") == "All"
    validation = query.get("fieldValidation", "Warn") or "Warn"
    as_table = "as=Table" in call.accept and (call.method == "GET")
    include = query.get("includeObject", "Metadata")
    if sub == "exec":
        raise ApiError.bad_request("Upgrade request required")
    if sub in STREAMING:
        raise ApiError.bad_request(
            f"{STREAMING[sub]} is not supported by the opsgym embedded cluster: its containers are simulated, so there "
            "is no process to attach to; use `kubectl logs`, `kubectl describe` or `kubectl get -o yaml` instead")
    if call.method == "GET" and name is None:
        if _flag(query, "watch"):
            version = query.get("resourceVersion", "")
            since = int(version) if version.isdigit() and version != "0" else None
            timeout = _number(query, "timeoutSeconds") or 1800
            return WatchPlan(rt, namespace, since, label_selector(query.get("labelSelector")),
                             field_selector(query.get("fieldSelector"), rt.plural), as_table,
                             float(min(timeout, 1800)))
        items = api.list(rt, namespace, query.get("labelSelector"), query.get("fieldSelector"))
        if as_table:
            return Reply(200, table(rt, items, engine.clock.now, engine.store.revision, include))
        return Reply(200, {"kind": f"{rt.kind}List", "apiVersion": rt.api_version,
                           "metadata": {"resourceVersion": str(engine.store.revision)}, "items": items})
    if call.method == "GET" and name is not None:
        obj = api.get(rt, ns, name)
        if sub == "log":
            since = _number(query, "sinceSeconds")
            text = container_logs(obj, engine.kubelet.state.get(obj["metadata"]["uid"]), query.get("container"),
                                  previous=_flag(query, "previous"), tail=_number(query, "tailLines"),
                                  timestamps=_flag(query, "timestamps"),
                                  since=engine.clock.now - since if since is not None else None)
            return Reply(200, text, "text/plain")
        if sub == "scale":
            return Reply(200, api.scale(rt, obj))
        if as_table:
            return Reply(200, table(rt, [obj], engine.clock.now, engine.store.revision, include))
        return Reply(200, obj)
    return _write(engine, call, rt, ns, name, sub, dry_run, validation)


def _write(engine: Engine, call: Call, rt: Kind, ns: str, name: str | None, sub: str, dry_run: bool,
           validation: str) -> Reply:
    api, query = engine.api, call.query
    warnings: list[str] = []
    if call.method == "POST" and name is None:
        obj, warnings = api.create(rt, ns, _body(call, rt.kind), dry_run=dry_run, validation=validation)
        code = 201
    elif call.method == "POST" and sub == "eviction" and name is not None:
        obj, code = evict(engine, ns, name, _body(call, "Eviction"), dry_run), 201
    elif call.method == "PUT" and name is not None:
        obj, warnings = api.update(rt, ns, name, _body(call, rt.kind), subresource=sub, dry_run=dry_run,
                                   validation=validation)
        code = 200
    elif call.method == "PATCH" and name is not None:
        kind = PATCH_TYPES.get(call.content_type.split(";")[0].strip().lower())
        if kind is None:
            raise ApiError.unsupported_media(call.content_type)
        if kind == "apply" and not query.get("fieldManager"):
            raise ApiError.bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                                       "required for apply patch")
        obj, warnings = api.patch(rt, ns, name, kind, _body(call, rt.kind), subresource=sub, dry_run=dry_run,
                                  validation=validation)
        code = 200
    elif call.method == "DELETE":
        options = _body(call) if call.body.strip() else {}
        if not isinstance(options, dict):
            raise ApiError.bad_request("DeleteOptions must be a JSON object")
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]
        if _number(query, "gracePeriodSeconds") is not None:
            options["gracePeriodSeconds"] = _number(query, "gracePeriodSeconds")
        dry_run = dry_run or options.get("dryRun") == ["All"]
        if name is None:
            items = [api.delete(rt, o["metadata"].get("namespace", ""), o["metadata"]["name"], options,
                                dry_run=dry_run)
                     for o in api.list(rt, ns or None, query.get("labelSelector"), query.get("fieldSelector"))]
            obj, code = {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": {}, "items": items}, 200
        else:
            obj, code = api.delete(rt, ns, name, options, dry_run=dry_run), 200
    else:
        raise ApiError.method_not_allowed()
    quoted = [w.replace("\\", "\\\\").replace('"', '\\"') for w in warnings]
    headers = {"Warning": ", ".join(f'299 - "{w}"' for w in quoted)} if warnings else {}
    return Reply(code, obj, headers=headers, mutated=not dry_run)
