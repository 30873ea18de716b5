"""``POST /v1/templates/{name}/import``: last year's published report → this year's draft data.

An agency writes its 政府信息公开工作年度报告 by starting from last year's: same narrative skeleton,
new figures. This reads a published report (a PDF from any tool, or a .docx) into the template's
data, lists what could not be read (``unread: [{where, what}]``) and checks the data against the
template's schema and rules (``problems``, the same entries a render's 422 would carry) — a draft
with problems is still returned, to be edited (the studio opens it as the sample).

The parse runs in a child process with CPU, memory and page limits (core/report_import/isolated.py),
so this module imports no parser; a semaphore bounds how many run at once per API process.
"""

from __future__ import annotations

import threading

from flask import Blueprint, jsonify, request

from core.errors import BadRequest, InvalidData, NotFound, PayloadTooLarge, RuleViolation, ServiceUnavailable
from core.report_import import check_kind
from core.report_import.forms import IMPORTABLE
from core.report_import.isolated import import_isolated

from .state import state
from .validation import validate_data

bp = Blueprint("report_import", __name__)
_RUNNING = threading.BoundedSemaphore(2)
"""Imports parsing at once per API process (each is a child process on its own CPU)."""


@bp.post("/v1/templates/<name>/import")
def import_report(name: str):
    st = state()
    if name not in IMPORTABLE:
        st.registry.resolve(name)  # 404 for an unknown name, as every other template route
        raise NotFound(f"template {name!r} has no report importer; importable: {', '.join(sorted(IMPORTABLE))}",
                       errors=[{"path": "name", "message": "no importer"}])
    tv = st.registry.resolve(name)
    content = _uploaded_report(st.settings.import_max_bytes)
    check_kind(content)  # anything but a PDF or a zip is refused here, without starting a parser
    if not _RUNNING.acquire(blocking=False):
        raise ServiceUnavailable("other imports are being read; try again in a few seconds")
    try:
        result = import_isolated(content, IMPORTABLE[name], st.settings)
    finally:
        _RUNNING.release()
    try:
        problems = validate_data(result["data"], tv.schema, tv.rules, mode="warn", validator=tv.validator,
                                 rule_timeout=st.settings.rule_timeout)
    except (InvalidData, RuleViolation) as exc:
        problems = exc.errors
    return jsonify({"template": name, "template_version": tv.version, **result, "problems": problems})


def _uploaded_report(limit: int) -> bytes:
    if request.mimetype != "multipart/form-data" or "file" not in request.files:
        raise BadRequest("send the report as multipart/form-data with a 'file' part (PDF or .docx)",
                         errors=[{"path": "file", "message": "missing part"}])
    content = request.files["file"].read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"the report is over {limit} bytes (WENSHU_IMPORT_MAX_BYTES)",
                              errors=[{"path": "file", "message": f"more than {limit} bytes"}])
    return content
