"""The bundled certificate (templates/certificate): its sample renders with every finished-document feature."""

from __future__ import annotations

import io
import json

import pdfplumber
import pytest
from finish_kit import MM, decoded_codes

from core.settings import PROJECT_ROOT
from helpers import pdf_text, squash

pytestmark = pytest.mark.e2e

FOLDER = PROJECT_ROOT / "templates" / "certificate"
SAMPLE = json.loads((FOLDER / "sample.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pdf(pipeline) -> bytes:
    return pipeline.render((FOLDER / "template.docx").read_bytes(), SAMPLE, ["pdf"],
                           {"watermark": {"text": "样本 SAMPLE"}})["pdf"]


def test_sample_renders_one_page_with_its_statement(pdf):
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == 1
    text = squash(pdf_text(pdf))
    assert "兹证明张三" in text and "2024年3月4日至2024年3月15日" in text and "48学时" in text
    assert "某某市公共管理培训中心" in text and "PX-2024-000127" in text


def test_qr_code_and_barcode_read_back(pdf, tmp_path):
    codes = decoded_codes(pdf, tmp_path)
    assert "QR-Code:https://cert.example.cn/verify?no=PX-2024-000127" in codes
    assert "CODE-128:PX-2024-000127" in codes


def test_chart_qr_barcode_and_seal_are_at_their_sizes(pdf):
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        sizes = sorted((round(i["width"] / MM), round(i["height"] / MM)) for i in doc.pages[0].images)
    assert sizes == [(28, 28), (40, 40), (60, 14), (150, 75)]


def test_seal_covers_the_issuer_and_the_date(pdf):
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        seal = next(i for i in page.images if round(i["width"] / MM) == 40)
        lines = [w for w in page.extract_words() if w["text"].startswith(("某某市", "2024"))][-2:]
    for word in lines:
        assert seal["x0"] < word["x1"] and word["x0"] < seal["x1"], (seal, word)
        assert seal["top"] < word["bottom"] and word["top"] < seal["bottom"], (seal, word)
