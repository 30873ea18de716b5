"""Helpers for the fault, limit and shutdown tests: the conversion gate, process trees, polling.

Everything is real: documents are built with python-docx, processes are found with ``ps``. A
conversion is made slow on purpose with :class:`ConversionGate` (lo_server.py's test hook), never
by a document that happens to take long on this machine.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docx import Document
from redis import Redis

from core.keys import Keys
from core.settings import Settings

ROW_TEXT = "x" * 20


def table_template(title: str = "Big table {{ title }}") -> bytes:
    """A .docx whose one table grows a row per item of ``rows`` (``{%tr for %}``)."""
    doc = Document()
    doc.add_paragraph(title)
    table = doc.add_table(rows=3, cols=4)
    table.rows[0].cells[0].text = "{%tr for r in rows %}"
    for i in range(4):
        table.rows[1].cells[i].text = "{{ r[" + str(i) + "] }}"
    table.rows[2].cells[0].text = "{%tr endfor %}"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def table_data(rows: int, title: str = "T") -> dict[str, Any]:
    """Data for :func:`table_template`: ``rows`` rows, the last one reading ``r{rows-1}c{rows-1}``."""
    return {"title": title, "rows": [[f"r{i}", f"c{i}", str(i * 7), ROW_TEXT] for i in range(rows)]}


class ConversionGate:
    """The test side of lo_server.py's WENSHU_TEST_CONVERT_GATE hook.

    While closed (:meth:`close`), every conversion of a worker started with :meth:`env` stops right after
    LibreOffice loaded its document, and says so in ``entered`` (lo_server pid, soffice pid): the
    test then knows a conversion is in progress, and which instance holds it. :meth:`open` lets
    every held conversion go on.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.hold = directory / "hold"
        self.log = directory / "entered"

    def env(self) -> dict[str, str]:
        """Extra environment for ``start_workers`` (honoured because the workers run WENSHU_ENV=test)."""
        return {"WENSHU_TEST_CONVERT_GATE": str(self.directory)}

    def close(self) -> None:
        """Hold conversions from now on, and forget earlier ones."""
        self.hold.touch()
        self.log.unlink(missing_ok=True)

    def open(self) -> None:
        self.hold.unlink(missing_ok=True)

    def entered(self) -> list[tuple[int, int]]:
        """(lo_server pid, soffice pid) of every conversion that reached the gate since :meth:`close`."""
        if not self.log.exists():
            return []
        return [tuple(map(int, line.split())) for line in self.log.read_text().splitlines() if line]

    def wait_entered(self, count: int, timeout: float = 120) -> list[tuple[int, int]]:
        """Wait until ``count`` conversions have reached the gate; return who they were."""
        return wait_until(lambda: len(self.entered()) >= count and self.entered(), timeout,
                          f"{count} conversion(s) to reach the gate")


def post_adhoc(client, template: bytes, data: dict, query: str = "", **options: Any):
    """POST a multipart render with an ad-hoc template through a Flask test client."""
    form = {"template": (io.BytesIO(template), "t.docx"), "data": json.dumps(data)}
    if options:
        form["options"] = json.dumps(options)
    return client.post(f"/v1/renders{query}", data=form, content_type="multipart/form-data")


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def job_doc(client, job_id: str) -> dict:
    return client.get(f"/v1/renders/{job_id}").get_json()


def wait_status(client, job_id: str, statuses: tuple[str, ...], timeout: float) -> dict:
    return wait_until(lambda: (d := job_doc(client, job_id)) and d.get("status") in statuses and d,
                      timeout, f"job {job_id} to reach {statuses}")


def processes() -> dict[int, tuple[int, str]]:
    """pid → (ppid, command line) of every process on the machine."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True, text=True,
                         check=True).stdout
    table = {}
    for line in out.splitlines():
        pid, ppid, args = (line.strip().split(None, 2) + [""])[:3]
        table[int(pid)] = (int(ppid), args)
    return table


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` (any session), pid → command line."""
    table = processes()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, args) in table.items():
            if ppid == parent and child not in found:
                found[child] = args
                frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def worker_pids(settings: Settings) -> dict[str, int]:
    """Worker name → pid of each worker process that reports a live LibreOffice."""
    redis = Redis.from_url(settings.redis_url)
    keys = Keys(settings.key_prefix)
    found = {}
    for key in redis.scan_iter(match=f"{keys.prefix}:lo-alive:*"):
        pid = redis.get(key)
        if pid:
            found[key.decode().split(":lo-alive:", 1)[1]] = int(pid)
    return found


def pid_running_job(settings: Settings, job_id: str) -> int:
    """The pid of the worker process RQ says is running ``job_id``."""
    from rq.job import Job

    redis = Redis.from_url(settings.redis_url)
    name = wait_until(lambda: Job.fetch(job_id, connection=redis).worker_name, 30, "the job's worker name")
    return worker_pids(settings)[name]


def soffice_bins(pid: int) -> list[int]:
    return [p for p, args in descendants(pid).items() if "soffice.bin" in args]


def kill(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def restarts_total(client, reason: str | None = None) -> float:
    """``wenshu_libreoffice_restarts_total`` as /metrics shows it: for one reason, or summed over all."""
    text = client.get("/metrics").get_data(as_text=True)
    label = f'reason="{reason}"' if reason else ""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("wenshu_libreoffice_restarts_total") and label in line)
