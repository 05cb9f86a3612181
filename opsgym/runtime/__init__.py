"""The runtime API service programs are written against, with a real and a simulated implementation.

``opsgym_runtime.py`` is the real one: a self-contained, standard-library-only module that the SRE scenario ships
into the cluster beside the programs. :mod:`opsgym.runtime.sim` runs the same module and programs in-process with a
simulated host, for the embedded cluster's kubelet.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["RUNTIME_FILE", "runtime_source"]

RUNTIME_FILE = Path(__file__).with_name("opsgym_runtime.py")
"""The module file that is shipped into clusters (as ``opsgym_runtime.py`` next to the programs)."""


def runtime_source() -> str:
    """The text of the shipped runtime module."""
    return RUNTIME_FILE.read_text(encoding="utf-8")
