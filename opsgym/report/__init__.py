"""Reports over run directories: HTML with plots (:func:`write_report`), comparisons, CSV/Parquet exports.

Everything here reads only episode records (:mod:`opsgym.record`) and needs the ``report`` extra
(``pip install 'opsgym[report]'``: plotly, pandas, pyarrow, scipy).
"""

from __future__ import annotations

from opsgym.report.html import write_report

__all__ = ["write_report"]
