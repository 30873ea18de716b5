"""The bounds of service/page_images.py: busy slots answer 503, a slow drawing 422, never a hang."""

from __future__ import annotations

import pytest

from core.errors import ServiceUnavailable, Unprocessable
from service import page_images


def test_every_slot_busy_is_503_not_a_wait_without_end(monkeypatch):
    monkeypatch.setattr(page_images, "QUEUE_WAIT_SECONDS", 0.2)
    for _ in range(page_images.CONCURRENT):
        page_images._slots.acquire()
    try:
        with pytest.raises(ServiceUnavailable, match="busy"):
            page_images.page_count(b"%PDF-1.4")
    finally:
        for _ in range(page_images.CONCURRENT):
            page_images._slots.release()


def test_drawing_past_its_time_limit_is_422_and_frees_its_slot(monkeypatch):
    monkeypatch.setattr(page_images, "TIMEOUT_SECONDS", 1e-6)
    with pytest.raises(Unprocessable, match="longer than"):
        page_images.page_count(b"%PDF-1.4")
    assert page_images._slots.acquire(timeout=0)  # released again
    page_images._slots.release()


def test_a_file_that_is_not_a_pdf_is_422():
    with pytest.raises(Unprocessable, match="could not be read"):
        page_images.page_image(b"not a pdf", 1, 1)
