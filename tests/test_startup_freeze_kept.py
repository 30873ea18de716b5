"""A render leaves the worker's start-up freeze in place (issue #12, everyday latency).

The worker freezes what start-up built (worker/memory.py) so the full collection it runs after
every job walks only that job's objects. Anything in a render that called ``gc.unfreeze`` would
thaw the whole process back into the collector: measured on the 8-page annual report, the
post-job collection then took ~70 ms of CPU (170–350 ms of wall time at load 6–8) instead of
~4 ms, ahead of the next queued job. What the test asserts is the cause, not a timing.
"""

from __future__ import annotations

import gc
import json

import pytest

from core.settings import PROJECT_ROOT
from worker.memory import freeze_startup_objects
from worker.pipeline import Pipeline

REPORT = PROJECT_ROOT / "templates/gov-info-annual-report-2019"


@pytest.fixture()
def frozen_startup():
    freeze_startup_objects()
    yield gc.get_freeze_count()
    gc.unfreeze()  # what this test froze goes back to the collector


def test_a_render_does_not_thaw_the_objects_the_worker_froze_at_start_up(frozen_startup):
    template = (REPORT / "template.docx").read_bytes()
    data = json.loads((REPORT / "sample.json").read_text(encoding="utf-8"))
    with Pipeline() as pipeline:
        files = pipeline.render(template, data, formats=("docx",),
                                options={"watermark": {"text": "样稿"}, "pdf": {"metadata": {"title": "年度报告"}}})
        pipeline.render(template, {k: v for k, v in data.items() if k != "agency"}, formats=("docx",))
    assert files["docx"].startswith(b"PK")
    # Frozen objects a render frees (a cache entry replaced) leave the count; a thaw empties it.
    assert gc.get_freeze_count() > 0.9 * frozen_startup
