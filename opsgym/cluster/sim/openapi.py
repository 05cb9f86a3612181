"""The OpenAPI v3 documents kubectl fetches for ``explain``, ``apply`` and ``create`` with validation on.

The schemas are Kubernetes 1.32's own, as the ``kubernetes-validate`` package ships them (generated from the API
server's published OpenAPI, with every field's description and the strategic-merge metadata:
``x-kubernetes-patch-merge-key``, list types, map types). They are rewritten here into the form kube-apiserver serves
at ``/openapi/v3/<group-version>`` (component references, a ref beside a description wrapped in ``allOf``, no JSON
Schema ``null`` types), holding the schemas reachable from the kinds of that group/version. So ``kubectl explain
pod.spec.containers`` prints the real documentation, and ``kubectl apply`` computes its strategic merge from the same
patch metadata it would read from a real server. Each PATCH operation declares the ``fieldValidation`` parameter,
which is how kubectl learns that it may leave validation to the server (:mod:`opsgym.cluster.sim.schema` performs it).
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from typing import Any

from opsgym.cluster.sim.kinds import GROUP_VERSIONS, RESOURCES

__all__ = ["openapi_document", "openapi_root"]

SCHEMAS = ("kubernetes_validate", "kubernetes-json-schema/v1.32.0-local/_definitions.json")
"""Where the 1.32 definitions live inside the ``kubernetes-validate`` package."""
_REF = "#/$defs/"
_COMPONENT = "#/components/schemas/"


@functools.cache
def _definitions() -> dict[str, Any]:
    package, path = SCHEMAS
    return json.loads((resources.files(package) / path).read_text(encoding="utf-8"))["$defs"]


def _v3(schema: Any, *, top_level_kind: bool = False) -> Any:
    """One JSON Schema node → the OpenAPI v3 node kube-apiserver serves for it."""
    if isinstance(schema, list):
        return [_v3(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            out[key] = next(t for t in value if t != "null")
        elif key == "oneOf":  # IntOrString and Quantity: "string or integer/number", never null
            out[key] = [_v3({k: v for k, v in option.items()}) for option in value]
        elif key == "properties":
            out[key] = {name: _v3(prop) for name, prop in value.items()}
            if top_level_kind:  # the package pins apiVersion/kind to enums; the API server's schema does not
                for name in ("apiVersion", "kind"):
                    if name in out[key]:
                        out[key][name].pop("enum", None)
        elif key == "$ref":
            out[key] = _COMPONENT + value.removeprefix(_REF)
        else:
            out[key] = _v3(value)
    if "$ref" in out and len(out) > 1:  # a reference with its own description or default, as kube-openapi writes it
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def _references(schema: Any, into: set[str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            name = ref.removeprefix(_REF)
            if name not in into:
                into.add(name)
                _references(_definitions().get(name), into)
        for value in schema.values():
            _references(value, into)
    elif isinstance(schema, list):
        for item in schema:
            _references(item, into)


def _schema_name(group: str, version: str, kind: str) -> str | None:
    """The definition holding ``group/version kind`` (found by its group-version-kind extension)."""
    for name, schema in _definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (group, version, kind):
                return name
    return None


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@functools.cache
def openapi_document(group: str, version: str) -> bytes | None:
    """The document for one group/version as JSON bytes (built once: kubectl fetches it on every apply), or None
    if the group/version is not served."""
    if (group, version) not in GROUP_VERSIONS:
        return None
    paths: dict[str, Any] = {}
    wanted: set[str] = set()
    for rt in RESOURCES:
        if (rt.group, rt.version) != (group, version):
            continue
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        prefix = f"/{_gv_path(group, version)}" + ("/namespaces/{namespace}" if rt.namespaced else "")
        operation = {"operationId": f"patch{rt.kind}", "x-kubernetes-action": "patch",
                     "x-kubernetes-group-version-kind": gvk,
                     "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                                    {"name": "dryRun", "in": "query", "schema": {"type": "string"}}],
                     "responses": {"200": {"description": "OK"}}}
        paths[f"{prefix}/{rt.plural}/{{name}}"] = {"patch": operation}
        name = _schema_name(rt.group, rt.version, rt.kind)
        if name is not None:
            wanted.add(name)
            _references(_definitions()[name], wanted)
    kinds = {n for n in wanted if _definitions()[n].get("x-kubernetes-group-version-kind")}
    schemas = {name: _v3(_definitions()[name], top_level_kind=name in kinds) for name in sorted(wanted)}
    document = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
                "components": {"schemas": schemas}}
    return json.dumps(document, separators=(",", ":")).encode()


@functools.cache
def openapi_root() -> dict[str, Any]:
    """``/openapi/v3``: where each group/version document lives (server-relative URLs with a content hash)."""
    paths = {}
    for group, version in GROUP_VERSIONS:
        digest = hashlib.sha256(openapi_document(group, version) or b"").hexdigest()
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest[:32].upper()}"}
    return {"paths": paths}
