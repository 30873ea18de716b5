"""docxtpl's own demo templates render through the API (tests/fixtures/peer-corpus).

Each case is sent the way an integrator without a registered template would: a multipart ad-hoc
render with the .docx and its JSON data. Passing is what ``how_to_check`` in cases.json says:
every ``expect`` string in the ``pdftotext -raw`` text (whitespace removed from both sides), no
Jinja delimiters left unless the template's own prose shows them (``literal_tags``), and at
least ``min_images`` images.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from helpers import pdf_image_count, pdf_text, squash

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).parent / "fixtures" / "peer-corpus"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))["cases"]
TAG_DELIMITERS = ("{{", "{%", "}}", "%}")


def test_corpus_has_all_twenty_cases():
    assert len(CASES) == 20
    assert len({c["name"] for c in CASES}) == 20
    assert all((CORPUS / "templates" / c["template"]).exists() for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_peer_template_renders_through_the_api(client, case, tmp_path):
    docx = (CORPUS / "templates" / case["template"]).read_bytes()
    parts = {"template": (io.BytesIO(docx), case["template"]),
             "data": json.dumps(case["data"], ensure_ascii=False),
             "options": json.dumps({"filename": case["name"]})}
    response = client.post("/v1/renders?wait=60&download=pdf", data=parts, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    raw = pdf_text(response.data)
    text = squash(raw)
    missing = [e for e in case["expect"] if squash(e) not in text]
    assert not missing, f"not in the PDF: {missing}\n---\n{raw}"
    if not case.get("literal_tags"):
        # The raw text, not the squashed one: a template's prose may say "{ {" with a space.
        left = [d for d in TAG_DELIMITERS if d in raw]
        assert not left, f"unrendered tag syntax {left} in:\n{raw}"
    if "min_images" in case:
        assert pdf_image_count(response.data, tmp_path) >= case["min_images"]
