"""End-to-end latency vs raw LibreOffice conversion, and throughput with 1 vs 2 workers.

(a) POST /v1/renders?wait=60&download=pdf through the running service (HTTP → Redis → worker →
    docxtpl → LibreOffice → Redis → HTTP), PDF bytes in hand;
(b) the same rendered DOCX converted by a warm *stock* unoserver 3.7 (its own server and client),
    with the same options (PDF, no index update);
(a') the same render with the template uploaded ad hoc: multipart POST of the same .docx bytes with
    the same data (the API's check cache skips re-checking bytes it already passed), PDF in hand;
(c) for reference, the same DOCX through our own conversion endpoint (lo_server.py, hidden load).
Prints medians of N interleaved runs and the ratios a/b and a'/b; then the wall time of 20 concurrent jobs with 1 and
2 worker processes and the speed-up. Usage: ``.venv/bin/python bench/e2e_vs_raw.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import unoserver
from unoserver.client import UnoClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _stack import ROOT, Stack, free_port, http  # noqa: E402

from core.settings import Settings  # noqa: E402
from worker.libreoffice import Supervisor  # noqa: E402
from worker.render import render_docx  # noqa: E402

TEMPLATE = "gov-info-annual-report-2019"


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def multipart(url: str, fields: dict[str, tuple[str, bytes]]) -> tuple[int, bytes]:
    """POST ``fields`` (name → (filename, bytes)) as multipart/form-data, as an ad-hoc client does."""
    boundary = uuid.uuid4().hex
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
                    for name, (filename, content) in fields.items()) + f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def stock_unoserver() -> tuple[subprocess.Popen, int]:
    """unoserver's own server under the system Python, on free loopback ports."""
    port, uno_port = free_port(), free_port()
    profile = Path(tempfile.mkdtemp(prefix="wenshu-bench-lo-"))
    env = dict(os.environ, PYTHONPATH=str(Path(unoserver.__file__).resolve().parent.parent))
    proc = subprocess.Popen(["/usr/bin/python3", "-m", "unoserver.server", "--interface", "127.0.0.1",
                             "--port", str(port), "--uno-port", str(uno_port),
                             "--user-installation", str(profile)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # unoserver's client retries every 10 s on a refused connection: wait for the port first.
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError("stock unoserver exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("stock unoserver did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=20, help="throughput jobs; 0 skips the throughput part")
    args = parser.parse_args()
    folder = ROOT / "templates" / TEMPLATE
    sample = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
    template = (folder / "template.docx").read_bytes()
    docx = render_docx(template, sample)
    upload = {"template": ("template.docx", template),
              "data": ("data.json", json.dumps(sample, ensure_ascii=False).encode())}

    with Stack(workers=1) as stack:
        request = {"template": TEMPLATE, "data": sample}
        url = stack.url + "/v1/renders?wait=60&download=pdf"
        status, pdf = http("POST", url, request)
        assert status == 200 and pdf.startswith(b"%PDF"), (status, pdf[:300])
        status, adhoc_pdf = multipart(url, upload)
        assert status == 200 and adhoc_pdf.startswith(b"%PDF"), (status, adhoc_pdf[:300])
        pages = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, text=False).stdout.decode()
        pages = next((line.split()[-1] for line in pages.splitlines() if line.startswith("Pages")), "?")
        stages = [json.loads(http("POST", stack.url + "/v1/renders?wait=60", request)[1])["timings_ms"]
                  for _ in range(5)]
        adhoc_stages = [json.loads(multipart(stack.url + "/v1/renders?wait=60", upload)[1])["timings_ms"]
                        for _ in range(5)]
        proc, port = stock_unoserver()
        ours = Supervisor(Settings())
        try:
            client = UnoClient(port=str(port))
            measures = {
                "e2e": lambda: http("POST", url, request),
                "adhoc": lambda: multipart(url, upload),
                "raw": lambda: client.convert(indata=docx, convert_to="pdf", update_index=False),
                "hidden": lambda: ours.convert(docx, "pdf"),
            }
            load_before = os.getloadavg()[0]  # the shared machine's load: ratios drift with it
            for measure in measures.values():  # warm every path
                measure()
                measure()
            # Interleaved, so the machine's drift (a shared VM) affects every path alike; the order
            # rotates each round, so no path always follows the same one (a job's after-work — the
            # worker's collection, a LibreOffice tidying up — would otherwise always fall on one).
            samples: dict[str, list[float]] = {name: [] for name in measures}
            names = list(measures)
            for round_number in range(args.runs):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name].append(timed(measures[name]))
        finally:
            Stack.stop_proc(proc)
            ours.stop()
        a, a2, b, c = (statistics.median(samples[k]) for k in ("e2e", "adhoc", "raw", "hidden"))
        print(f"document: {TEMPLATE} sample, {pages} pages, DOCX {len(docx)} bytes, PDF {len(pdf)} bytes; "
              f"load average at the start {load_before:.2f}, at the end {os.getloadavg()[0]:.2f}")
        print(f"(a) end-to-end POST→PDF via service, median of {args.runs}: {a * 1000:.0f} ms")
        print(f"(a') end-to-end ad-hoc multipart POST→PDF, median of {args.runs}: {a2 * 1000:.0f} ms")
        print(f"(b) stock unoserver 3.7 warm conversion, median of {args.runs}: {b * 1000:.0f} ms")
        print(f"(c) our hidden-load endpoint, median of {args.runs}: {c * 1000:.0f} ms")
        print(f"ratio a/b = {a / b:.2f}   (target ≤ 1.10)   a/c = {a / c:.2f}")
        print(f"ratio a'/b = {a2 / b:.2f}   (target ≤ 1.15)   a'/c = {a2 / c:.2f}")
        for label, runs in (("stored", stages), ("ad-hoc", adhoc_stages)):
            print(f"job stages ({label}), median of 5 (ms): " + ", ".join(
                f"{k} {statistics.median(s[k] for s in runs):.0f}" for k in ("queued", "render", "convert", "total")))
        if args.jobs <= 0:
            return

        walls = {}
        for n in (1, 2):
            stack.start_workers(n)
            stack.wait_ready()
            walls[n] = throughput(stack, request, args.jobs)
            print(f"{args.jobs} jobs with {n} worker(s): {walls[n]:.2f} s  ({args.jobs / walls[n]:.2f} jobs/s)")
        print(f"speed-up 2 workers vs 1: {walls[1] / walls[2]:.2f}×   (target ≥ 1.7)")


def throughput(stack: Stack, request: dict, jobs: int) -> float:
    """Wall time from submitting ``jobs`` renders at once until the last one finished."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        statuses = list(pool.map(lambda _: until_ended(stack, request), range(jobs)))
    wall = time.perf_counter() - t0
    assert statuses.count("finished") == jobs, statuses
    return wall


def until_ended(stack: Stack, request: dict) -> str:
    """Submit one render and wait for its end; past the API's held-wait cap (WENSHU_MAX_HELD_WAITS)
    ``?wait=`` answers at once with the job still queued, so wait again, as a client would."""
    doc = json.loads(http("POST", stack.url + "/v1/renders?wait=60", request)[1])
    while doc["status"] in ("queued", "started"):
        time.sleep(0.2)
        doc = json.loads(http("GET", f"{stack.url}/v1/renders/{doc['id']}?wait=60")[1])
    return doc["status"]


if __name__ == "__main__":
    main()
