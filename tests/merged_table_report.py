"""The long-table report with a title row merged across its table (a ``gridSpan``, as official tables have).

docxtpl's grid reconciliation has work to do on it, which our fill once left to docxtpl's slow path;
bench/fill.py --merged and tests/test_fast_fill.py fill it.
"""

from __future__ import annotations

import io
from copy import deepcopy

from docx import Document
from long_table_report import build_template


def merged_template() -> bytes:
    """tests/long_table_report.py's template with a copy of the header row on top, its cells merged."""
    doc = Document(io.BytesIO(build_template()))
    table = doc.tables[0]
    table.rows[0]._tr.addprevious(deepcopy(table.rows[0]._tr))
    title = table.rows[0]
    merged = title.cells[0].merge(title.cells[-1])
    merged.text = "登记表"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
