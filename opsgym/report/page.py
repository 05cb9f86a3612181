"""Every way record data enters the report page, in one place, each made safe once.

A records file is input, not trusted: it may come from another machine, a shared run or a tampered file, and any string
in it (env id, agent name, outcome profile, check names, metric keys, LLM messages, errors …) must be shown as text and
never run. Record data reaches the page by exactly three paths, each with one function:

* HTML text and attribute values — :func:`text` (``html.escape`` with quotes), the only way a record string enters
  markup; element ids derived from record strings go through :func:`dom_id` instead;
* data for the page's script — :func:`script_json`: JSON inside ``<script type="application/json">`` with ``<``, ``>``,
  ``&`` and every non-ASCII character (U+2028/2029 included) as ``\\u`` escapes, so no ``</script>`` or ``<!--`` can end
  or bend the block, and non-finite numbers as strings (JSON has none, and ``JSON.parse`` refuses ``NaN``);
* plotly figures — :func:`figure_json`: plotly.js draws names, titles, axis labels and hover text as a subset of HTML
  (``<a href>``, ``<span style>`` …), so every string of a figure is HTML-escaped; plotly shows the entities as the
  characters they stand for.

:func:`csp_meta` adds a Content-Security-Policy that lets only the page's own inline scripts run (by their SHA-256), so
a path missed here still could not execute anything: no inline event handlers, no ``javascript:`` URLs, no injected
``<script>``, no network.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from typing import Any

__all__ = ["MAX_DEPTH", "csp_meta", "dom_id", "figure_json", "script_json", "text"]

MAX_DEPTH = 64
"""Deeper structures are cut (a foreign record may nest absurdly deep; the page shows the cut, never crashes)."""

_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def text(value: Any) -> str:
    """``value`` as HTML text, safe in element content and in quoted attribute values alike."""
    return html.escape(str(value), quote=True)


def dom_id(name: str, taken: set[str]) -> str:
    """An element id made from ``name`` with only letters, digits, ``-`` and ``_``, unique among ``taken``."""
    base = _NOT_ID.sub("_", name)[:80] or "id"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON-ready data: non-finite floats as strings, keys as strings, structures cut at :data:`MAX_DEPTH`."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, (dict, list, tuple)) and depth >= MAX_DEPTH:
        return f"[… nested deeper than {MAX_DEPTH} levels; see the record]"
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return str(value)


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">`` (read with ``JSON.parse``)."""
    dumped = json.dumps(_plain(value), ensure_ascii=True, allow_nan=False)
    return re.sub(r"[<>&]", lambda m: _SCRIPT_UNSAFE[m.group()], dumped)


def _escape_strings(value: Any) -> Any:
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, dict):
        return {k: _escape_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape_strings(v) for v in value]
    return value


def figure_json(figure: Any) -> dict[str, Any]:
    """A plotly figure's ``data`` and ``layout`` with every string escaped as HTML text (see the module docstring).

    Quotes are left alone: plotly's own template holds font lists such as ``"Open Sans", verdana`` and no tag can
    form without ``<``.
    """
    spec = json.loads(figure.to_json())
    return {"data": _escape_strings(spec.get("data", [])), "layout": _escape_strings(spec.get("layout", {}))}


def csp_meta(scripts: list[str]) -> str:
    """A ``<meta>`` Content-Security-Policy allowing exactly the inline ``scripts`` given (by SHA-256) and nothing else.

    Styles stay inline-able because plotly.js sets element styles as it draws; images only as ``data:``/``blob:``
    URLs (plotly's own download button). Nothing may be fetched, framed, submitted or used as a base URL.
    """
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
    policy = (f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data: blob:; "
              "font-src data:; base-uri 'none'; form-action 'none'")
    return f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
