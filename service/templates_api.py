"""``/v1/templates``: list, describe, upload, download, delete and lint templates."""

from __future__ import annotations

import io
import json
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file

from core.errors import BadRequest, NotFound

from .messages import localize
from .multipart import part_bytes, received_parts
from .registry import TemplateVersion
from .schema_gaps import undefined_in_schema
from .state import state
from .template_checks import lint_report
from .validation import parse_json

bp = Blueprint("templates", __name__)
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _uploaded_docx() -> bytes:
    if request.mimetype != "multipart/form-data":
        raise BadRequest(f"send the template as multipart/form-data with a 'file' part (.docx); "
                         f"got Content-Type {request.mimetype or 'none'}",
                         errors=[{"path": "Content-Type", "message": "not multipart/form-data"}])
    docx = part_bytes("file")
    if docx is None:  # a part without a filename is accepted too (curl -F "file=<t.docx")
        raise BadRequest(f"the multipart request has no 'file' part (the .docx); parts received: {received_parts()}",
                         errors=[{"path": "file", "message": "missing part"}])
    return docx


def _json_part(name: str) -> Any:
    if name in request.files:
        raw = request.files[name].read()
    elif name in request.form:
        raw = request.form[name].encode()
    else:
        return None
    return parse_json(raw, f"the '{name}' part", state().settings.json_max_depth)


@bp.get("/v1/templates")
def list_templates():
    return jsonify(state().registry.list())


@bp.get("/v1/templates/<name>")
def get_template(name: str):
    return jsonify(state().registry.describe(name))


@bp.put("/v1/templates/<name>")
def put_template(name: str):
    docx = _uploaded_docx()
    meta = _json_part("meta")
    meta = {} if meta is None else meta  # not `or {}`: false, 0, "" and [] are no object either
    if not isinstance(meta, dict):
        raise BadRequest(f"the 'meta' part must be a JSON object, got {type(meta).__name__}",
                         errors=[{"path": "meta", "message": "not a JSON object"}])
    schema = _json_part("schema")
    version, created = state().registry.register(
        name, docx, schema=schema, rules=_json_part("rules"), sample=_json_part("sample"),
        title=request.form.get("title") or meta.get("title"), formats=meta.get("formats"))
    warnings = undefined_in_schema(state().registry.resolve(name, version).meta.get("variables", []), schema)
    # The same .docx and contract again: the version already exists, nothing changed → 200, not 201.
    response = jsonify({"name": name, "version": version, "created": created, "warnings": localize(warnings)})
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/templates/{name}"
    return response


def _requested_version(name: str) -> TemplateVersion:
    """The version ``?version=`` asks for (default: latest); 404 naming ``?version`` when unknown."""
    return state().registry.resolve(name, request.args.get("version"), where="?version")


@bp.get("/v1/templates/<name>/file")
def get_template_file(name: str):
    st = state()
    tv = _requested_version(name)
    docx = st.templates.field(name, tv.version, "docx")
    return send_file(io.BytesIO(docx), mimetype=DOCX_MIME, as_attachment=True,
                     download_name=f"{name}-{tv.version}.docx")


@bp.get("/v1/templates/<name>/sample")
def get_template_sample(name: str):
    st = state()
    tv = _requested_version(name)
    sample = st.templates.json_field(name, tv.version, "sample")
    if sample is None:
        raise NotFound(f"template {name!r} has no sample")
    return Response(json.dumps(sample, ensure_ascii=False), mimetype="application/json")


@bp.delete("/v1/templates/<name>")
def delete_template(name: str):
    state().registry.delete(name)
    return Response(status=204)


@bp.post("/v1/templates/lint")
def lint_template():
    docx = _uploaded_docx()
    report = lint_report(docx)
    return jsonify(report | {"problems": localize(report["problems"])})
