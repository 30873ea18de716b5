"""Save-to-fresh-PDF time: ``wenshu preview`` (warm LibreOffice) vs the cold ``wenshu render`` CLI.

An author edits the template and saves; what matters is how long until the PDF shows the edit.
(a) cold: ``wenshu render template.docx data.json -o out.pdf`` per edit, a new process and a new
    LibreOffice each time (what the issue measured at 6.6-7 s);
(b) warm: one ``wenshu preview template.docx data.json -o out.pdf`` session; per edit the
    template is saved with a changed paragraph (so nothing is served from the compile cache) and
    the clock runs until preview prints the line for the fresh PDF.
Both use the bundled invoice template and its sample. Prints both medians and the ratio a/b.
Usage: ``.venv/bin/python bench/preview_loop.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import io
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from docx import Document

ROOT = Path(__file__).resolve().parent.parent
INVOICE = ROOT / "templates" / "invoice"
ENV = {**os.environ, "PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0"}


def edited(revision: int) -> bytes:
    """The invoice template as if its author had just changed a line (a new revision each time)."""
    document = Document(str(INVOICE / "template.docx"))
    document.add_paragraph(f"修订 {revision}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def save(path: Path, data: bytes, stamp: float) -> None:
    path.write_bytes(data)
    os.utime(path, (stamp, stamp))  # a modification time surely newer than the last


def cold(folder: Path, runs: int) -> list[float]:
    times = []
    for revision in range(runs):
        template = folder / "cold.docx"
        template.write_bytes(edited(1000 + revision))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cli.main", "render", str(template), str(INVOICE / "sample.json"),
                        "-o", str(folder / "cold.pdf"), "--validation", "off"],
                       cwd=ROOT, env=ENV, check=True, capture_output=True, timeout=300)
        times.append(time.perf_counter() - t0)
    return times


def warm(folder: Path, runs: int) -> list[float]:
    template = folder / "warm.docx"
    save(template, edited(0), time.time())
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "preview", str(template),
                             str(INVOICE / "sample.json"), "-o", str(folder / "warm.pdf")],
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=300)  # LibreOffice's start: paid once per session, not per save
        assert " ok " in first, first
        times = []
        for revision in range(1, runs + 1):
            data = edited(revision)
            time.sleep(0.5)
            t0 = time.perf_counter()
            save(template, data, time.time() + revision)
            line = lines.get(timeout=300)
            times.append(time.perf_counter() - t0)
            assert " ok " in line, line
        return times
    finally:
        proc.terminate()
        proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cold_times = cold(folder, args.runs)
        warm_times = warm(folder, args.runs)
    cold_median, warm_median = statistics.median(cold_times), statistics.median(warm_times)
    print(f"cold `wenshu render` per edit:        median {cold_median:.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in cold_times)})")
    print(f"warm `wenshu preview` save → new PDF: median {warm_median:.2f} s  "
          f"({', '.join(f'{t:.2f}' for t in warm_times)})")
    print(f"ratio cold / warm: {cold_median / warm_median:.1f}x")


if __name__ == "__main__":
    main()
