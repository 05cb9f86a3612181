"""Kubernetes quantities (``128Mi``, ``500m``, ``1e3``, ``0.5``) read by the kubernetes client's own parser.

``kubernetes.utils.parse_quantity`` is the reference (exact, as :class:`~decimal.Decimal`); the simulator, the SRE
checks and the manifest checks all read quantities through :func:`parse_quantity` here, so a suffix one of them did not
know can no longer make them disagree. ``import kubernetes`` loads the whole generated client (~0.4 s) although the
parser is one self-contained file that imports only :mod:`decimal`, and the simulator parses quantities on every
scheduling pass; so that file is loaded on its own, once, at import.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from opsgym.errors import QuantityError

__all__ = ["MIB", "memory_mib", "parse_quantity", "quantity_or"]

MIB = 2**20
T = TypeVar("T")


def _client_parser() -> Callable[[Any], Decimal]:
    """``kubernetes.utils.quantity.parse_quantity``, loaded without running ``kubernetes/__init__``."""
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the kubernetes client is not installed: pip install kubernetes")
    path = Path(next(iter(spec.submodule_search_locations))) / "utils" / "quantity.py"
    file_spec = importlib.util.spec_from_file_location("opsgym.k8s._client_quantity", path)
    if file_spec is None or file_spec.loader is None:
        raise ImportError(f"cannot load the kubernetes client's quantity parser from {path}")
    module: ModuleType = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    parser: Callable[[Any], Decimal] = module.parse_quantity
    return parser


_PARSE = _client_parser()


def parse_quantity(value: Any) -> Decimal:
    """The exact value of a quantity in base units (bytes, cores); numbers pass through.

    Raises:
        QuantityError: the text is not a quantity (``128MB``, ``1.2.3``, ``""``, ``inf``), with what would be.
    """
    number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    amount = _parse(value) if number else _parse_text(str(value).strip())
    if amount is None:
        raise QuantityError(f"{value!r} is not a Kubernetes quantity (e.g. 128Mi, 1Gi, 500m, 0.5, 1e3)")
    return amount


def _parse(value: Any) -> Decimal | None:
    try:
        amount = _PARSE(value)
    except (ValueError, TypeError, ArithmeticError):
        return None
    return amount if amount.is_finite() else None


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Decimal | None:
    """Cached: the simulator re-reads the same few dozen requests and limits on every scheduling pass, and the
    client's parser costs ~3x the regex it replaced (Decimal results are immutable, so sharing them is safe)."""
    return _parse(text)


def quantity_or(value: Any, default: T) -> float | T:
    """``parse_quantity`` as a float, or ``default`` where ``value`` is not a quantity (readers of live objects that
    must not fail on one bad field: the simulator reads 0, the SRE checks report it missing)."""
    try:
        return float(parse_quantity(value))
    except QuantityError:
        return default


def memory_mib(value: Any) -> float:
    """A memory quantity in MiB (0.0 where it is not a quantity): the unit the simulated programs' memory is in."""
    return quantity_or(value, 0.0) / MIB
