"""What every template builder shares: byte-for-byte reproducible output, and no silent overwrite.

The bundled templates' .docx files are *generated*: the builder scripts are their source, and a
test (``tests/test_template_sources.py``) rebuilds each one and compares it with the committed
bytes. Fixed zip timestamps and core-property dates make a rebuild of unchanged source
identical, so a template's content-addressed version changes only when its content does; a
.docx edited by hand (in Word) no longer matches its build, the test says so, and ``--check``
lets the author see that before committing.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from docx.document import Document

FIXED_TIME = datetime(2026, 1, 1)
"""Creation/modification date stamped into every generated template."""


def reproducible(document: Document) -> bytes:
    """Save ``document`` with fixed dates and zip timestamps: same content, same bytes."""
    props = document.core_properties
    props.created = props.modified = FIXED_TIME
    props.revision = 1
    raw = io.BytesIO()
    document.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def run(targets: dict[Path, Callable[[], bytes]], root: Path) -> int:
    """Command line of a builder: write the targets that changed, or with ``--check`` only compare.

    Returns:
        The exit status: 0 when every target is (or now is) up to date; 1 when ``--check`` finds
        a target whose committed bytes differ from its build.
    """
    parser = argparse.ArgumentParser(description="Build bundled templates reproducibly.")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if a committed .docx differs from its build")
    check = parser.parse_args().check
    stale = []
    for target, build in targets.items():
        data = build()
        if target.exists() and target.read_bytes() == data:
            print(f"up to date: {target.relative_to(root)}")
        elif check:
            stale.append(target)
            print(f"DIFFERS from its build: {target.relative_to(root)}", file=sys.stderr)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            print(f"wrote {target.relative_to(root)}")
    return 1 if stale else 0
