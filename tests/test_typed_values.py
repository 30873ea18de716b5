"""Typed JSON values ($image, $rich, $listing, $link) as integrators send them."""

import base64
import io
import zipfile

import pytest
from docx import Document
from PIL import Image

from core.errors import InvalidData
from helpers import pdf_image_count, pdf_text
from worker.render import render_docx

pytestmark = pytest.mark.e2e


def one_tag_template(tag: str = "{{ value }}") -> bytes:
    document = Document()
    document.add_paragraph("before")
    document.add_paragraph(tag)
    document.add_paragraph("after")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def png_base64(color: str = "red") -> str:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), color).save(out, "PNG")
    return base64.b64encode(out.getvalue()).decode()


def test_plain_string_keeps_its_line_breaks(pipeline):
    text = pdf_text(pipeline.render(one_tag_template(), {"value": "第一行\n第二行"})["pdf"])
    lines = [line.strip() for line in text.splitlines()]
    assert "第一行" in lines and "第二行" in lines


def test_listing_keeps_lines_and_escapes_markup(pipeline):
    text = pdf_text(pipeline.render(one_tag_template(), {"value": {"$listing": "a < b\nc & d"}})["pdf"])
    lines = [line.strip() for line in text.splitlines()]
    assert "a < b" in lines and "c & d" in lines


def test_link_becomes_a_hyperlink_with_its_text(pipeline):
    files = pipeline.render(one_tag_template("{{r value }}"),
                            {"value": {"$link": {"url": "https://example.org/报告", "text": "全文链接"}}},
                            formats=["pdf", "docx"])
    assert "全文链接" in pdf_text(files["pdf"])
    rels = zipfile.ZipFile(io.BytesIO(files["docx"])).read("word/_rels/document.xml.rels").decode()
    assert "https://example.org/" in rels and 'TargetMode="External"' in rels


def test_rich_text_segments_render_in_order(pipeline):
    value = {"$rich": [{"text": "加粗", "bold": True}, {"text": "红色", "color": "#C00000"}]}
    assert "加粗红色" in pdf_text(pipeline.render(one_tag_template("{{r value }}"), {"value": value})["pdf"])


def test_image_from_base64_appears_in_the_pdf(pipeline, tmp_path):
    pdf = pipeline.render(one_tag_template(), {"value": {"$image": {"data": png_base64(), "width_mm": 30}}})["pdf"]
    assert pdf_image_count(pdf, tmp_path) == 1


@pytest.mark.parametrize(("value", "pointer"), [
    ({"$image": {"data": "not base64!!"}}, "/value/$image/data"),
    ({"$image": {"data": base64.b64encode(b"plain text").decode()}}, "/value/$image/data"),
    ({"$image": {"url": "https://example.org/x.png"}}, "/value/$image"),
    ({"$image": {"data": png_base64(), "width_mm": -3}}, "/value/$image/width_mm"),
    ({"$link": {"url": "javascript:alert(1)", "text": "x"}}, "/value/$link/url"),
    ({"$rich": [{"text": "x", "blink": True}]}, "/value/$rich/0"),
    ({"$listing": 42}, "/value/$listing"),
], ids=["bad-base64", "not-an-image", "url-not-data", "negative-width", "javascript-link", "unknown-option",
        "listing-not-text"])
def test_malformed_typed_value_is_refused_with_its_pointer(value, pointer):
    with pytest.raises(InvalidData) as caught:
        render_docx(one_tag_template(), {"value": value})
    assert caught.value.errors[0]["path"] == pointer
