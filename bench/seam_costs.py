"""Where the mending of long-table seams spends its time (issue #12): LibreOffice CPU per seam, by seam index.

Fills the report of tests/long_table_report.py with N rows, chunks it as the worker does
(worker/long_tables.py), then, under the system Python that imports ``uno``, loads it hidden in a
fresh soffice and mends the seams one by one (worker/lo_seams.py), reading soffice.bin's CPU time
(utime + stime, /proc) around each step: CPU time, unlike wall time, is not inflated by the other
sessions sharing the machine. Prints load, fence, the per-seam cost averaged over each tenth of the
seams (a cost that grows with the document shows as a slope; one that grows with what follows a
seam, as a fall), the export, and the pages.

Usage: ``.venv/bin/python bench/seam_costs.py [--rows 4000] [--chunk-rows 300]``
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNO_PYTHON = "/usr/bin/python3"


def soffice_cpu(profile: str) -> float:
    """CPU seconds used so far by the soffice.bin running with ``profile``."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and profile in (entry / "cmdline").read_text() and \
                    "soffice.bin" in (entry / "cmdline").read_text():
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return 0.0


def measure(docx: str, workdir: str) -> None:
    """System-Python side: start soffice, load ``docx`` hidden, mend seam by seam, export."""
    sys.path.insert(0, str(ROOT / "worker"))
    import lo_seams
    import uno
    from com.sun.star.beans import PropertyValue

    profile = f"{workdir}/profile"
    os.makedirs(f"{profile}/user")
    shutil.copy(ROOT / "docker/libreoffice/registrymodifications.xcu", f"{profile}/user/")
    pipe = f"seams-{secrets.token_hex(8)}"
    env = dict(os.environ, FONTCONFIG_FILE=str(ROOT / "docker/fontconfig/fonts.conf"))
    soffice = subprocess.Popen(["soffice", "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo",
                                "--norestore", "--nolockcheck", f"-env:UserInstallation=file://{profile}",
                                f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
                               env=env, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        for _ in range(1200):
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:  # noqa: BLE001 (not up yet)
                time.sleep(0.05)
        desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        document = None
        while document is None:  # a just-started soffice may refuse the first load
            document = desktop.loadComponentFromURL(f"file://{docx}", "_blank", 0,
                                                    (PropertyValue(Name="Hidden", Value=True),))
        cpu = [soffice_cpu(profile)]
        print(f"load {cpu[-1]:.2f} s CPU")
        found = lo_seams.seams(document)
        cursor = document.getCurrentController().getViewCursor()
        shifts = lo_seams.fence(cursor, found)
        cpu.append(soffice_cpu(profile))
        print(f"fence {cpu[-1] - cpu[-2]:.2f} s CPU ({len(found)} chunks)")
        per_seam = []
        for (bookmark, overlap, before, after, _), shift in zip(found, shifts, strict=True):
            lo_seams.mend(cursor, overlap, before, after, shift, document.refresh)
            bookmark.dispose()
            cpu.append(soffice_cpu(profile))
            per_seam.append(cpu[-1] - cpu[-2])
        cursor.jumpToLastPage()  # the layout the last seam's change calls for, before the export
        cpu.append(soffice_cpu(profile))
        per_seam[-1] += cpu[-1] - cpu[-2]
        tenth = max(1, len(per_seam) // 10)
        for start in range(0, len(per_seam), tenth):
            part = per_seam[start:start + tenth]
            print(f"seams {start:>3}-{start + len(part) - 1:<3} {sum(part) / len(part):.3f} s CPU each")
        print(f"mending {sum(per_seam):.2f} s CPU, {sum(per_seam) / max(1, len(per_seam)):.3f} per seam")
        out = f"{workdir}/out.pdf"
        document.storeToURL(f"file://{out}", (PropertyValue(Name="FilterName", Value="writer_pdf_Export"),))
        print(f"export {soffice_cpu(profile) - cpu[-1]:.2f} s CPU; total {soffice_cpu(profile):.2f} s CPU; "
              f"pages {cursor.getPage()}")
        document.close(True)
    finally:
        soffice.terminate()
        soffice.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--chunk-rows", type=int, default=300)
    parser.add_argument("--uno", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.uno:
        measure(args.uno, os.path.dirname(args.uno))
        return
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from long_table_report import build_template, report_data

    from worker.long_tables import chunk_long_tables
    from worker.render import render_docx

    docx = render_docx(build_template(), report_data(args.rows), max_output=2**31)
    chunked, seams = chunk_long_tables(docx, args.chunk_rows)
    with tempfile.TemporaryDirectory(prefix="seam-costs-") as workdir:
        path = Path(workdir) / "chunked.docx"
        path.write_bytes(chunked)
        print(f"{args.rows} rows, chunks of {args.chunk_rows}: {seams} seams; load average {os.getloadavg()[0]:.1f}",
              flush=True)
        subprocess.run([UNO_PYTHON, __file__, "--uno", str(path)], check=True)


if __name__ == "__main__":
    main()
