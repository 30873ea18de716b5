"""Page images of a rendered PDF, drawn by poppler's ``pdftoppm`` inside the API, within bounds.

Why here and not in the worker: the PDF is already stored when a render finishes, the studio asks
for pages only when someone looks at them, and rasterising one page with poppler is a bounded,
LibreOffice-free step (no fonts fetched, no scripts run). Every call is bounded: the longest side
is ``MAX_SIDE_PX`` whatever the page size, one page per call, a wall-clock timeout, and at most
``CONCURRENT`` rasterisations per API process (the rest wait briefly, then get a 503).
"""

from __future__ import annotations

import io
import re
import subprocess
import threading

from PIL import Image

from core.errors import NotFound, ServiceUnavailable, Unprocessable

MAX_SIDE_PX = 1000
"""Longest side of a page image in pixels (an A4 page comes out 707 x 1000)."""
MAX_PAGES = 200
"""Pages beyond this are never rasterised (a preview, not an archive)."""
TIMEOUT_SECONDS = 20
CONCURRENT = 2
PNG_COMPRESS_LEVEL = 3
"""zlib level of the PNGs served: poppler's own PNG writer spent ~3/4 of a page's time compressing
(1.2 s vs 0.28 s for the same page as PPM); Pillow at level 3 encodes it in a few tens of ms."""
QUEUE_WAIT_SECONDS = 30
_slots = threading.BoundedSemaphore(CONCURRENT)
_PAGES = re.compile(rb"^Pages:\s+(\d+)\s*$", re.MULTILINE)


def _poppler(args: list[str], pdf: bytes) -> bytes:
    if not _slots.acquire(timeout=QUEUE_WAIT_SECONDS):
        raise ServiceUnavailable("every page-image slot of this API process is busy; retry in a moment")
    try:
        done = subprocess.run(args, input=pdf, capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise Unprocessable(f"drawing the page took longer than {TIMEOUT_SECONDS} s") from None
    finally:
        _slots.release()
    if done.returncode != 0:
        raise Unprocessable("the PDF could not be read to draw its pages")
    return done.stdout


def page_count(pdf: bytes) -> int:
    """Pages of ``pdf`` (as ``pdfinfo`` counts them), capped at ``MAX_PAGES``."""
    found = _PAGES.search(_poppler(["pdfinfo", "-"], pdf))
    return min(int(found.group(1)), MAX_PAGES) if found else 0


def page_image(pdf: bytes, page: int, pages: int | None = None) -> Image.Image:
    """Page ``page`` (1-based) of ``pdf`` as an RGB image whose longest side is ``MAX_SIDE_PX``.

    Raises:
        NotFound: no such page (naming how many there are).
    """
    pages = page_count(pdf) if pages is None else pages
    if not 1 <= page <= pages:
        raise NotFound(f"page {page} does not exist: the document has {pages} page(s)",
                       errors=[{"path": "page", "message": f"1..{pages}"}])
    ppm = _poppler(["pdftoppm", "-f", str(page), "-l", str(page), "-scale-to", str(MAX_SIDE_PX),
                    "-singlefile", "-"], pdf)
    image = Image.open(io.BytesIO(ppm))
    image.load()
    return image


def png_bytes(image: Image.Image) -> bytes:
    """``image`` encoded as a PNG (quickly: these are previews, kept for minutes)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def open_png(data: bytes) -> Image.Image:
    """A page image this module drew and the API cached (our own PNG, never an upload)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
