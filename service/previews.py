"""Page images of a finished render and the visual diff of two renders (the studio's previews).

``GET /v1/renders/{id}/pages`` lists a render's page images, ``…/pages/{n}.png`` draws one
(:mod:`service.page_images`); ``GET /v1/renders/{a}/compare/{b}`` compares two renders page by
page and ``…/compare/{b}/pages/{n}.png`` shows ``b``'s page with the changed regions boxed
(:mod:`service.compare`). The studio renders two template versions with the same data through the
normal queue and compares the two jobs, so a diff is exactly what integrators would get.

Page images are kept in Redis for ``CACHE_SECONDS`` (a diff and the page list ask for the same
page); the PDF they come from is the job's, under the job's own key and expiry.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from PIL import Image

from core.errors import Conflict, Gone, ServiceUnavailable, Unprocessable

from . import downloads
from .compare import blank_like, changed_regions, highlighted
from .page_images import open_png, page_count, page_image, png_bytes
from .state import state

bp = Blueprint("previews", __name__)
CACHE_SECONDS = 600
MAX_COMPARED_PAGES = 30
"""Pages a diff compares; beyond them the answer says ``truncated``."""


def _pdf(job_id: str) -> bytes:
    """The PDF of finished render ``job_id``; 409 while it is not finished, 422 without a PDF."""
    doc = downloads.job(job_id)
    if doc.status != "finished":
        raise Conflict(f"render {job_id} is {doc.status}: its pages can be drawn once it has finished",
                       errors=[{"path": "job_id", "message": f"status {doc.status}"}])
    pdfs = [f for f in doc.files if f["format"] == "pdf"]
    if not pdfs:
        raise Unprocessable(f"render {job_id} produced no PDF: render with formats [\"pdf\"] to see its pages",
                            errors=[{"path": "job_id", "message": f"formats {doc.formats}"}])
    stored = state().results.open(job_id, pdfs[0]["name"])
    if stored is None:
        raise Gone(f"the PDF of render {job_id} has expired", reason="expired")
    if stored.url is not None:  # WENSHU_S3_PRESIGN: the API hands out links, it does not read files
        raise ServiceUnavailable("page images are not available with WENSHU_S3_PRESIGN=1 (the API does "
                                 "not read result files then); download the PDF instead")
    return stored.read()


class _Pages:
    """One render's page count and page images: each drawn at most once per request, kept as PNG."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.pdf = _pdf(job_id)
        self._drawn: dict[int, Image.Image] = {}
        counted = state().redis.get(self._key(0))
        self.count = int(counted) if counted is not None else page_count(self.pdf)
        if counted is None:
            state().redis.set(self._key(0), self.count, ex=CACHE_SECONDS)

    def _key(self, page: int) -> str:
        """Where page ``page``'s PNG is cached (page 0: the page count)."""
        return state().keys.file(self.job_id, f"studio-page-{page}.png" if page else "studio-page-count")

    def image(self, page: int) -> Image.Image:
        if page not in self._drawn:
            cached = state().redis.get(self._key(page))
            if cached is not None:
                self._drawn[page] = open_png(cached)
            else:
                self._drawn[page] = page_image(self.pdf, page, self.count)
                state().redis.set(self._key(page), png_bytes(self._drawn[page]), ex=CACHE_SECONDS)
        return self._drawn[page]

    def png(self, page: int) -> bytes:
        if not 1 <= page <= self.count:
            return png_bytes(page_image(self.pdf, page, self.count))  # raises the 404 naming the page count
        cached = state().redis.get(self._key(page))
        return cached if cached is not None else png_bytes(self.image(page))


def _png(data: bytes) -> Response:
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=60"
    return response


@bp.get("/v1/renders/<job_id>/pages")
def list_pages(job_id: str):
    pages = _Pages(job_id)
    doc = downloads.job(job_id)
    return jsonify({"id": job_id, "count": pages.count, "warnings": doc.warnings,
                    "pages": [f"/v1/renders/{job_id}/pages/{n}.png" for n in range(1, pages.count + 1)]})


@bp.get("/v1/renders/<job_id>/pages/<int:page>.png")
def get_page(job_id: str, page: int):
    return _png(_Pages(job_id).png(page))


def _page_pair(old: _Pages, new: _Pages, page: int):
    """Both versions' page ``page``; a page one of them lacks is blank."""
    a = old.image(page) if page <= old.count else None
    b = new.image(page) if page <= new.count else None
    a = a if a is not None else blank_like(b)
    b = b if b is not None else blank_like(a)
    return a, b


@bp.get("/v1/renders/<job_a>/compare/<job_b>")
def compare_renders(job_a: str, job_b: str):
    old, new = _Pages(job_a), _Pages(job_b)
    total = max(old.count, new.count)
    pages: list[dict[str, Any]] = []
    for page in range(1, min(total, MAX_COMPARED_PAGES) + 1):
        regions = changed_regions(*_page_pair(old, new, page))
        pages.append({"page": page, "changed": bool(regions), "regions": [list(r) for r in regions],
                      "image": f"/v1/renders/{job_a}/compare/{job_b}/pages/{page}.png"})
    return jsonify({"from": job_a, "to": job_b, "from_pages": old.count, "to_pages": new.count,
                    "changed": any(p["changed"] for p in pages) or old.count != new.count,
                    "truncated": total > MAX_COMPARED_PAGES, "pages": pages})


@bp.get("/v1/renders/<job_a>/compare/<job_b>/pages/<int:page>.png")
def compare_page(job_a: str, job_b: str, page: int):
    old, new = _Pages(job_a), _Pages(job_b)
    if page > max(old.count, new.count) or page < 1:
        page_image(new.pdf, page, max(old.count, new.count))  # raises the 404 naming the page count
    a, b = _page_pair(old, new, page)
    return _png(png_bytes(highlighted(b, changed_regions(a, b))))
