"""What a ``kubectl get|delete --raw PATH`` request touches, read from its URL as the API server will route it.

``kubectl delete --raw /api/v1/namespaces/kube-public`` deletes a Namespace exactly as ``kubectl delete namespace
kube-public`` does, so it must be classified and penalised the same way: the path names the kind (by its plural),
the namespace and the name, and the query the options (``gracePeriodSeconds=0`` is ``--grace-period=0``,
``dryRun=All`` a server-side dry run). kubectl decodes ``%XX`` escapes before sending the path (``kube%2Dpublic`` is
``kube-public``); it sends ``..`` segments as written, and a server or proxy in front of the API may resolve them, so
the path is read after both: it names the most the request can touch (a request the server refuses fails, and a
failed action is not penalised).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["RawRequest", "clean_path", "read_raw"]


@dataclass
class RawRequest:
    """The object or collection a raw path names (``name`` empty for a collection), with its query options."""

    plural: str
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    query: dict[str, list[str]] = field(default_factory=dict)


def clean_path(path: str) -> list[str]:
    """The path's segments as ``path.Clean`` leaves them: empty and ``.`` segments dropped, ``..`` removes one."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    return out


def read_raw(uri: str) -> RawRequest | None:
    """The resource a raw URI addresses, or None when it names no resource (``/healthz``, ``/api/v1``, ``/apis``).

    Accepted shapes, as the API server routes them: ``/api/V/...`` and ``/apis/GROUP/V/...`` followed by
    ``namespaces/NS/PLURAL[/NAME[/SUB...]]``, ``namespaces[/NAME[/SUB]]`` or ``PLURAL[/NAME[/SUB...]]``.
    """
    parts = urlsplit(uri)
    segments = clean_path(unquote(parts.path))
    query = parse_qs(parts.query, keep_blank_values=True)
    if len(segments) >= 3 and segments[0] == "api":
        rest = segments[2:]
    elif len(segments) >= 4 and segments[0] == "apis":
        rest = segments[3:]
    else:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    else:
        namespace = ""
    return RawRequest(plural=rest[0], namespace=namespace, name=rest[1] if len(rest) > 1 else "",
                      subresource="/".join(rest[2:]), query=query)
