"""Rewrite the README's SRE catalog table (between ``<!-- catalog -->`` and ``<!-- /catalog -->``) from the catalog.

Run after adding or changing a task: ``.venv/bin/python scripts/readme_catalog.py``. A test fails while the README
and the catalog disagree, so the counts a user reads are the tasks that load.
"""

from __future__ import annotations

import re
from pathlib import Path

import opsgym  # noqa: F401  (registers the tasks)
from opsgym.catalog import markdown

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- catalog -->\n).*?(<!-- /catalog -->)", re.S)


def main() -> None:
    text = README.read_text(encoding="utf-8")
    README.write_text(BLOCK.sub(lambda m: m[1] + markdown() + "\n" + m[2], text), encoding="utf-8")


if __name__ == "__main__":
    main()
