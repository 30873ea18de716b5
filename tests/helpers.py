"""Small helpers the tests share: reading what a user would read out of a PDF."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
import zipfile

from docx import Document


def pdf_text(pdf: bytes) -> str:
    """Text of a PDF as ``pdftotext -raw`` gives it (table rows kept in order)."""
    return subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")


def squash(text: str) -> str:
    """``text`` with all whitespace removed, as the fidelity measures compare it."""
    return re.sub(r"\s+", "", text)


def pdf_image_count(pdf: bytes, tmp_path) -> int:
    """Images in a PDF as ``pdfimages -list`` counts them."""
    path = tmp_path / "images.pdf"
    path.write_bytes(pdf)
    lines = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return max(0, len(lines) - 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docx_parts(docx: bytes) -> dict[str, bytes]:
    """Every part of a .docx by name: two fills compared byte for byte, whatever their zip dates."""
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def docxtpl_fill(template: bytes, data: dict) -> bytes:
    """The fill through docxtpl's own class, in our sandbox: the reference the worker's fast paths
    (worker/fast_fill.py, rendered_body.py, table_grid.py) must equal byte for byte."""
    from docxtpl import DocxTemplate

    from core.sandbox import make_environment
    from worker.typed import to_context

    tpl = DocxTemplate(io.BytesIO(template))
    tpl.render(to_context(data, tpl), jinja_env=make_environment(), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def docx_with(*paragraphs: str) -> bytes:
    """A .docx whose body holds one paragraph per string."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def assert_problem(response, status: int = 422) -> dict:
    """The response is an RFC 9457 problem with ``status``, no stack trace in it; return its body."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "application/problem+json"
    body = json.loads(text)
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    assert "Traceback" not in text and 'File "' not in text
    return body


def with_key(app, key: str):
    """A test client of ``app`` that sends ``Authorization: Bearer <key>`` with every request."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def put_template(api, name: str, docx: bytes, **json_parts):
    """``PUT /v1/templates/{name}`` with the .docx and JSON parts (schema, rules, sample, meta)."""
    parts = {"file": (io.BytesIO(docx), "template.docx")}
    parts.update({k: json.dumps(v, ensure_ascii=False) for k, v in json_parts.items()})
    return api.put(f"/v1/templates/{name}", data=parts, content_type="multipart/form-data")
