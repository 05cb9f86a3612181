"""The three PATCH dialects kubectl speaks: JSON merge (RFC 7386), JSON patch (RFC 6902) and strategic merge.

Strategic merge patch is Kubernetes' own: lists of named things (containers, env, ports, volumes …) merge element
by element on a merge key instead of being replaced, and ``$patch``, ``$setElementOrder/…``, ``$retainKeys`` and
``$deleteFromPrimitiveList/…`` directives steer it. kubectl relies on it for ``set env``, ``set image``,
``rollout restart`` and ``apply``. The merge keys below are those of the core/apps Go types.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from opsgym.cluster.sim.status import ApiError

__all__ = ["PATCH_TYPES", "apply_patch", "json_merge_patch", "strategic_merge_patch"]

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}

CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumeMounts": "mountPath", "volumeDevices": "devicePath", "volumes": "name", "imagePullSecrets": "name",
    "hostAliases": "ip", "ownerReferences": "uid", "conditions": "type", "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
PRIMITIVE_MERGE_LISTS = frozenset({"finalizers"})
"""Lists of scalars whose patch strategy is ``merge`` (union) rather than replace."""

_DELETE = object()


def merge_key(path: tuple[str, ...]) -> str | None:
    """The merge key of the list at ``path`` (field names only), or None when the list is replaced whole."""
    field = path[-1]
    if field == "ports":
        return "containerPort" if len(path) >= 2 and path[-2] in CONTAINER_LISTS else "port"
    return MERGE_KEYS.get(field)


def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: maps merge recursively, ``null`` deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a strategic merge patch; ``original`` is not modified."""
    if not isinstance(patch, dict):
        raise ApiError.bad_request("strategic merge patch must be a JSON object")
    merged = _merge_map(copy.deepcopy(original), patch, ())
    return {} if merged is _DELETE else merged


def _merge_map(original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]) -> Any:
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return _merge_map({}, patch, path)
    if directive not in (None, "merge"):
        raise ApiError.bad_request(f"Unknown patch type: {directive} in map: {patch}")
    retain = patch.pop("$retainKeys", None)
    orders = {k.split("/", 1)[1]: patch.pop(k) for k in list(patch) if k.startswith("$setElementOrder/")}
    removals = {k.split("/", 1)[1]: patch.pop(k) for k in list(patch) if k.startswith("$deleteFromPrimitiveList/")}
    result = original
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(result[key] if isinstance(result.get(key), dict) else {}, value, (*path, key))
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            current = result.get(key)
            result[key] = _merge_list(current if isinstance(current, list) else [], value, (*path, key))
        else:
            result[key] = copy.deepcopy(value)
    for key, values in removals.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, merge_key((*path, key)))
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(original: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
    field = path[-1]
    if field in PRIMITIVE_MERGE_LISTS:
        return list(original) + [v for v in patch if v not in original]
    key = merge_key(path)
    if key is None or any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        elements = [e for e in patch if not (isinstance(e, dict) and e.get("$patch") == "replace")]
        return [_strip(e, path) for e in elements]
    result = list(original)
    for element in patch:
        if not isinstance(element, dict):
            raise ApiError.bad_request(f"the list {field} holds objects merged on {key!r}; got {element!r}")
        if key not in element:
            raise ApiError.bad_request(f"map: {element} does not contain declared merge key: {key}")
        index = next((i for i, e in enumerate(result) if isinstance(e, dict) and e.get(key) == element[key]), None)
        if element.get("$patch") == "delete":
            result = [e for e in result if not (isinstance(e, dict) and e.get(key) == element[key])]
        elif index is None:
            result.append(_strip(element, path))
        else:
            result[index] = _merge_map(result[index], element, path)
    return result


def _strip(value: Any, path: tuple[str, ...]) -> Any:
    """A patch fragment that becomes new content: directives applied against nothing."""
    if isinstance(value, dict):
        merged = _merge_map({}, value, path)
        return {} if merged is _DELETE else merged
    return copy.deepcopy(value)


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [o.get(key) if key and isinstance(o, dict) else o for o in order]
    rank = {value: i for i, value in enumerate(wanted) if isinstance(value, (str, int, float))}
    listed = sorted((i for i in items if ident(i) in rank), key=lambda i: rank[ident(i)])
    return listed + [i for i in items if ident(i) not in rank]


def apply_patch(kind: str, original: dict[str, Any], body: Any) -> dict[str, Any]:
    """Apply a parsed patch body of dialect ``kind`` (``merge``, ``json``, ``strategic``, ``apply``).

    Raises:
        ApiError: 400 for a malformed patch, 422 for a JSON patch that does not apply (as the apiserver does).

    The result never shares structure with ``original``: stored objects are immutable by contract and snapshots
    share them, so a patch result that aliased them would let a later edit corrupt every snapshot.
    """
    original = copy.deepcopy(original)
    if kind == "json":
        if not isinstance(body, list):
            raise ApiError.bad_request("json patch must be a JSON array of operations")
        try:
            result = jsonpatch.JsonPatch(body).apply(original)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: {exc}",
                           {"causes": [{"reason": "FieldValueInvalid", "message": str(exc)}]}) from exc
        if not isinstance(result, dict):
            raise ApiError(422, "Invalid", "the server rejected our request: the patched document is not an object")
        return result
    if not isinstance(body, dict):
        raise ApiError.bad_request(f"{kind} patch must be a JSON object")
    if kind == "merge":
        return json_merge_patch(original, body)
    return strategic_merge_patch(original, body)
