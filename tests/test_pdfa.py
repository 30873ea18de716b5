"""``options.pdf.pdfa``: what PDF/A requires, checked on the output (no validator such as veraPDF is
packaged for Debian, so the checks that matter are made here): the XMP identification, every font
embedded, an output intent, no encryption, Info and XMP in step — with a watermark, a seal and a
signature on the same document."""

from __future__ import annotations

import io
import subprocess

import pytest
from finish_kit import b64, make_p12, seal_png, signing_pipeline, validation
from lxml import etree
from pypdf import PdfReader

from helpers import docx_with

pytestmark = pytest.mark.e2e

TEMPLATE = docx_with("政府信息公开工作年度报告 Annual Report", "某某市人民政府办公室 {{ seal }}")
DATA = {"seal": {"$seal": {"data": b64(seal_png()), "width_mm": 30, "offset_x_mm": -40}}}
OPTIONS = {"pdf": {"pdfa": "2b", "metadata": {"title": "2023年度报告", "author": "某某市"}},
           "watermark": {"text": "样稿"}}
PDFAID = "http://www.aiim.org/pdfa/ns/id/"


def identification(pdf: bytes) -> tuple[str, str]:
    """pdfaid:part and pdfaid:conformance, as elements (LibreOffice) or attributes (pyHanko rewrites them so)."""
    xmp = etree.fromstring(PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/Metadata"].get_object().get_data())
    found = {}
    for name in ("part", "conformance"):
        key = f"{{{PDFAID}}}{name}"
        found[name] = xmp.findtext(f".//{key}") or next(
            (d.get(key) for d in xmp.iter("{*}Description") if d.get(key)), None)
    return found["part"], found["conformance"]


@pytest.fixture(scope="module")
def pdfa(pipeline) -> bytes:
    return pipeline.render(TEMPLATE, DATA, ["pdf"], OPTIONS)["pdf"]


@pytest.mark.parametrize(("level", "part"), [("1b", "1"), ("3b", "3")])
def test_each_pdfa_level_identifies_itself_in_the_xmp(pipeline, level, part):
    pdf = pipeline.render(TEMPLATE, {"seal": ""}, ["pdf"], {"pdf": {"pdfa": level}})["pdf"]
    assert identification(pdf) == (part, "B")


def test_pdfa_2b_identifies_itself_in_the_xmp(pdfa):
    assert identification(pdfa) == ("2", "B")


def test_every_font_is_embedded(pdfa, tmp_path):
    (tmp_path / "a.pdf").write_bytes(pdfa)
    rows = subprocess.run(["pdffonts", str(tmp_path / "a.pdf")], capture_output=True, text=True,
                          check=True).stdout.splitlines()[2:]
    assert rows, "no fonts at all"
    assert all(row.split()[-5] == "yes" for row in rows), rows  # the "emb" column


def test_an_output_intent_with_its_icc_profile_is_present(pdfa):
    (intent,) = [i.get_object() for i in PdfReader(io.BytesIO(pdfa)).trailer["/Root"]["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/DestOutputProfile"].get_object().get_data()[36:40] == b"acsp"  # an ICC profile


def test_pdfa_is_not_encrypted_and_info_agrees_with_xmp(pdfa):
    reader = PdfReader(io.BytesIO(pdfa))
    assert not reader.is_encrypted
    assert reader.metadata.title == "2023年度报告"
    xmp = reader.xmp_metadata
    assert xmp.dc_title == {"x-default": "2023年度报告"} and xmp.dc_creator == ["某某市"]


def test_a_signed_pdfa_keeps_its_identification_and_validates(pipeline, tmp_path):
    certificate = make_p12(tmp_path)
    signing = signing_pipeline(pipeline, certificate)
    pdf = signing.render(TEMPLATE, DATA, ["pdf"], {"pdf": OPTIONS["pdf"] | {"sign": {"reason": "归档"}}})["pdf"]
    assert identification(pdf) == ("2", "B")
    assert validation(pdf, certificate[2]).bottom_line
