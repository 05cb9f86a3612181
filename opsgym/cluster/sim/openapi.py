"""The OpenAPI v3 documents kubectl fetches before ``create``/``apply`` with validation on.

kubectl only needs to learn, per kind, that the server accepts ``fieldValidation`` on PATCH (it then leaves
validation to the server, which :mod:`opsgym.cluster.sim.schema` performs). Schemas are empty objects, so
client-side strategic merge falls back to kubectl's built-in Go types, as for any built-in kind.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from opsgym.cluster.sim.kinds import GROUP_VERSIONS, RESOURCES

__all__ = ["openapi_document", "openapi_root"]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_document(group: str, version: str) -> dict[str, Any] | None:
    """The document for one group/version, or None if it is not served."""
    if (group, version) not in GROUP_VERSIONS:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
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
        schema_name = f"io.k8s.{(rt.group or 'core').split('.')[0]}.{rt.version}.{rt.kind}"
        schemas[schema_name] = {"type": "object", "x-kubernetes-group-version-kind": [gvk], "description": (
            f"{rt.kind} ({rt.api_version}). The opsgym embedded cluster serves no field documentation, so `kubectl "
            "explain` cannot describe fields here; see https://kubernetes.io/docs/reference/kubernetes-api/")}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"}, "paths": paths,
            "components": {"schemas": schemas}}


def openapi_root() -> dict[str, Any]:
    """``/openapi/v3``: where each group/version document lives (server-relative URLs with a content hash)."""
    paths = {}
    for group, version in GROUP_VERSIONS:
        digest = hashlib.sha256(json.dumps(openapi_document(group, version), sort_keys=True).encode()).hexdigest()
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest[:32].upper()}"}
    return {"paths": paths}
