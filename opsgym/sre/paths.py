"""Field paths into Kubernetes objects, shared by fault patches and end-state checks.

``spec.template.spec.containers[name=cart].env[name=KV_ADDR].value`` reads the way people talk about manifests;
``[0]`` indexes a list and ``["kv.conf"]`` quotes a key that contains dots.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from opsgym.errors import TaskSpecError

__all__ = ["get_path", "parse_path", "remove_path", "set_path"]

_SEGMENT = re.compile(
    r"""\[(?:(?P<index>-?\d+)|"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<field>[\w.-]+)=(?P<value>[^\]]*))\]""")
_MISSING = object()


def parse_path(path: str) -> list[str | int | tuple[str, str]]:
    """Split a path into keys (str), indexes (int) and ``(field, value)`` list selectors."""
    out: list[str | int | tuple[str, str]] = []
    i = 0
    while i < len(path):
        if path[i] == ".":
            i += 1
            continue
        if path[i] == "[":
            match = _SEGMENT.match(path, i)
            if match is None:
                raise TaskSpecError(f"bad path {path!r} at character {i}: expected [N], [\"key\"] or [field=value]")
            if match["index"] is not None:
                out.append(int(match["index"]))
            elif match["field"] is not None:
                out.append((match["field"], match["value"]))
            else:
                out.append(match["dq"] if match["dq"] is not None else match["sq"])
            i = match.end()
            continue
        end = len(path)
        for stop in (".", "["):
            found = path.find(stop, i)
            if found != -1:
                end = min(end, found)
        out.append(path[i:end])
        i = end
    if not out:
        raise TaskSpecError("empty field path")
    return out


def _step(node: Any, segment: str | int | tuple[str, str], create: Any = _MISSING) -> Any:
    if isinstance(segment, tuple):
        if not isinstance(node, list):
            return _MISSING
        field, value = segment
        for item in node:
            if isinstance(item, dict) and str(item.get(field)) == value:
                return item
        if create is _MISSING:
            return _MISSING
        node.append({field: value})
        return node[-1]
    if isinstance(segment, int):
        if isinstance(node, list) and -len(node) <= segment < len(node):
            return node[segment]
        return _MISSING
    if not isinstance(node, dict):
        return _MISSING
    if segment not in node and create is not _MISSING:
        node[segment] = create
    return node.get(segment, _MISSING)


def get_path(obj: Any, path: str, default: Any = None) -> Any:
    """The value at ``path``, or ``default`` when any step is missing."""
    node = obj
    for segment in parse_path(path):
        node = _step(node, segment)
        if node is _MISSING:
            return default
    return node


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at ``path``, creating missing mappings and named list items on the way."""
    segments = parse_path(path)
    node: Any = obj
    for segment, following in itertools.pairwise(segments):
        node = _step(node, segment, create=[] if isinstance(following, tuple) else {})
        if node is _MISSING:
            raise TaskSpecError(f"cannot set {path!r}: {segment!r} does not lead to a mapping or list")
    last = segments[-1]
    if isinstance(last, tuple):
        raise TaskSpecError(f"cannot set {path!r}: a path must end in a key or an index")
    if isinstance(node, dict) and isinstance(last, str):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
        node[last] = value
    else:
        raise TaskSpecError(f"cannot set {path!r}: {last!r} does not fit a {type(node).__name__}")


def remove_path(obj: dict[str, Any], path: str) -> bool:
    """Delete the value at ``path``; False when it was not there."""
    segments = parse_path(path)
    node: Any = obj
    for segment in segments[:-1]:
        node = _step(node, segment)
        if node is _MISSING:
            return False
    last = segments[-1]
    if isinstance(last, tuple) and isinstance(node, list):
        item = _step(node, last)
        if item is _MISSING:
            return False
        node.remove(item)
        return True
    if isinstance(node, dict) and isinstance(last, str) and last in node:
        del node[last]
        return True
    if isinstance(node, list) and isinstance(last, int) and -len(node) <= last < len(node):
        del node[last]
        return True
    return False
