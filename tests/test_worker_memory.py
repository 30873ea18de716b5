"""The worker's memory helpers (issue #15): post-job release, process-tree RSS, the diagnostic trace.

The end-to-end bound (a real ``wenshu worker`` idle after mixed renders) is in test_api_memory.py;
these pin down the parts it relies on, in this process.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref

from core.settings import Settings
from worker.memory import memory_samples, release_job_memory
from worker.memory_trace import MemoryTrace


class _Node:
    """A reference cycle: what python-docx's package and parts make of every filled template."""

    def __init__(self) -> None:
        self.me = self
        self.payload = bytearray(4 * 2**20)


def test_the_post_job_release_frees_what_a_job_left_in_reference_cycles():
    gc.disable()  # no automatic collection may do the work for it
    try:
        node = _Node()
        alive = weakref.ref(node)
        del node
        assert alive() is not None, "reference counting alone never frees a cycle"
        release_job_memory()
        assert alive() is None
    finally:
        gc.enable()


def test_a_process_tree_is_measured_in_one_walk_with_its_descendants_apart():
    hold = "b = bytearray(64 * 2**20); print('ok', flush=True); input()"
    child = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ok"
        samples = memory_samples([os.getpid(), child.pid])
        assert samples[child.pid]["worker"] >= 64 * 2**20
        assert samples[child.pid]["libreoffice"] == 0
        assert samples[os.getpid()]["libreoffice"] >= samples[child.pid]["worker"]
    finally:
        child.kill()
        child.wait()


def test_the_memory_trace_is_off_unless_a_path_is_set():
    assert MemoryTrace.from_settings(Settings()) is None


def test_the_memory_trace_reports_heap_objects_and_their_growth_every_n_jobs(tmp_path):
    trace = MemoryTrace.from_settings(Settings(memory_trace=str(tmp_path / "trace"), memory_trace_every=3))
    for _ in range(6):
        trace.job_done()
    (written,) = tmp_path.iterdir()
    reports = [json.loads(line) for line in written.read_text().splitlines()]
    assert [r["jobs"] for r in reports] == [3, 6]
    first, second = reports
    assert first["split"]["heap"] > 0 and first["split_after_trim"]["other_anon"] > 0
    assert first["mallinfo2"]["uordblks"] > 0 and first["pymalloc_arenas"] > 0 and first["objects"] > 0
    assert "types_grown" not in first and isinstance(second["types_grown"], list)
