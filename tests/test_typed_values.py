"""Typed JSON values ($image, $rich, $listing, $link) as integrators send them.

Every $rich option ends up formatted into Word XML by docxtpl, so each one is held to the grammar of
the OOXML value it becomes; the tests below check what reaches the document, not our own code. The
API refuses a value outside its grammar at POST with the very error the worker would give (one
grammar, core/typed_values.py); only what needs the template (``style``) or python-docx (an image's
header) is left for the render.
"""

import base64
import io
import json
import zipfile

import pytest
from docx import Document
from lxml import etree
from PIL import Image

from core.errors import InvalidData
from helpers import assert_problem, pdf_image_count, pdf_text
from worker.render import render_docx

pytestmark = pytest.mark.e2e
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


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


def rendered_part(data: dict, part: str = "word/document.xml", tag: str = "{{r value }}") -> str:
    """One part of the .docx rendered from ``data`` with a one-tag template, as text."""
    docx = render_docx(one_tag_template(tag), data)
    return zipfile.ZipFile(io.BytesIO(docx)).read(part).decode()


def refusal(value) -> dict:
    """The first error InvalidData names when the worker renders ``value``, as the client receives it."""
    with pytest.raises(InvalidData) as caught:
        render_docx(one_tag_template("{{r value }}"), {"value": value})
    return caught.value.errors[0]


def post_adhoc(client, data: dict, query: str = ""):
    """``POST /v1/renders`` of the one-tag template, ad hoc (multipart), with ``data``."""
    parts = {"template": (io.BytesIO(one_tag_template("{{r value }}")), "t.docx"),
             "data": json.dumps(data, ensure_ascii=False)}
    return client.post(f"/v1/renders?{query}", data=parts, content_type="multipart/form-data")


def api_refusal(client, data: dict) -> dict:
    """The first error of the 422 the API answers at POST, no job created for it."""
    body = assert_problem(post_adhoc(client, data))
    assert "job" not in body, body
    return body["errors"][0]


def refused_alike(client, value) -> dict:
    """The API's error for ``value``, checked to be exactly the worker's (pointer and message)."""
    error = api_refusal(client, {"value": value})
    assert error == refusal(value)
    return error


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


def test_every_rich_option_reaches_the_pdf_text_and_the_docx_run(pipeline):
    value = {"$rich": [{"text": "标题文字", "bold": True, "italic": True, "color": "c00000", "size": 36,
                        "highlight": "yellow", "underline": "double", "strike": True, "font": "eastAsia:SimHei",
                        "style": "Strong", "lang": "zh-CN"},
                       {"text": "2", "superscript": True}, {"text": "x", "subscript": True}]}
    files = pipeline.render(one_tag_template("{{r value }}"), {"value": value}, formats=["pdf", "docx"])
    assert "标题文字" in pdf_text(files["pdf"])
    xml = zipfile.ZipFile(io.BytesIO(files["docx"])).read("word/document.xml").decode()
    for expected in ('<w:rStyle w:val="Strong"/>', '<w:color w:val="C00000"/>', '<w:shd w:fill="FFFF00"/>',
                     '<w:sz w:val="36"/>', '<w:u w:val="double"/>', "<w:b/>", "<w:i/>", "<w:strike/>",
                     'w:eastAsia="SimHei"', '<w:lang w:val="zh-CN"/>', '<w:vertAlign w:val="superscript"/>',
                     '<w:vertAlign w:val="subscript"/>'):
        assert expected in xml


def test_image_from_base64_appears_in_the_pdf(pipeline, tmp_path):
    pdf = pipeline.render(one_tag_template(), {"value": {"$image": {"data": png_base64(), "width_mm": 30}}})["pdf"]
    assert pdf_image_count(pdf, tmp_path) == 1


@pytest.mark.parametrize(("value", "pointer"), [
    ({"$image": {"data": "not base64!!"}}, "/data/value/$image/data"),
    ({"$image": {"data": base64.b64encode(b"plain text").decode()}}, "/data/value/$image/data"),
    ({"$image": {"url": "https://example.org/x.png"}}, "/data/value/$image"),
    ({"$image": {"data": png_base64(), "width_mm": -3}}, "/data/value/$image/width_mm"),
    ({"$image": {"data": png_base64(), "anchor": "file:///etc/passwd"}}, "/data/value/$image"),
    ({"$link": {"url": "javascript:alert(1)", "text": "x"}}, "/data/value/$link/url"),
    ({"$link": {"url": "https://example.org", "text": "x", "target": "_self"}}, "/data/value/$link"),
    ({"$rich": [{"text": "x", "blink": True}]}, "/data/value/$rich/0"),
    ({"$listing": 42}, "/data/value/$listing"),
], ids=["bad-base64", "not-an-image", "url-not-data", "negative-width", "unknown-image-key",
        "javascript-link", "unknown-link-key", "unknown-option", "listing-not-text"])
def test_malformed_typed_value_is_refused_at_post_as_the_worker_would(client, value, pointer):
    assert refused_alike(client, value)["path"] == pointer


def test_truncated_image_passes_the_api_and_fails_its_render_naming_its_data(client):
    """Only python-docx reads an image's header: a PNG signature with nothing after it fails the job."""
    value = {"$image": {"data": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()}}
    body = assert_problem(post_adhoc(client, {"value": value}, "wait=60&download=pdf"))
    assert body["job"]["status"] == "failed"
    assert body["errors"][0]["path"] == "/data/value/$image/data"
    assert "damaged or truncated" in body["errors"][0]["message"]


HOSTILE_XML = '"/></w:rPr><w:fldSimple w:instr="FILENAME"/><w:r><w:rPr>'


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("color", "FF0000" + HOSTILE_XML, "6 hex digits"),
    ("color", "red", "6 hex digits"),
    ("color", "FF00", "6 hex digits"),
    ("highlight", "yellow" + HOSTILE_XML, "darkYellow"),
    ("highlight", 7, "hex digits"),
    ("size", "24" + HOSTILE_XML, "half-points"),
    ("size", 0, "half-points"),
    ("size", 401, "half-points"),
    ("size", 12.5, "half-points"),
    ("underline", "single" + HOSTILE_XML, "dotDash"),
    ("underline", "words", "dotDash"),
    ("bold", "true", "true or false"),
    ("italic", 1, "true or false"),
    ("strike", HOSTILE_XML, "true or false"),
    ("superscript", "yes", "true or false"),
    ("subscript", [], "true or false"),
    ("rtl", {}, "true or false"),
    ("lang", "zh-CN" + HOSTILE_XML, "language tag"),
    ("lang", "zh_CN", "language tag"),
    ("font", "SimHei" + HOSTILE_XML, "font name"),
    ("font", 'x" w:eastAsia="y', "font name"),
    ("font", "evil" + HOSTILE_XML + ":SimHei", "font name"),
    ("font", "ascii:x:y", "font name"),
    ("url", "https://example.org/" + HOSTILE_XML, "http(s)"),
    ("url", "file:///etc/passwd", "http(s)"),
    ("url", "https://", "http(s)"),
    ("url", "https://example.org/a b", "http(s)"),
    ("url", "https://example.org/" + "a" * 2100, "2048"),
    ("text", "bell\x07", "control character"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 12 and v.isidentifier() else None)
def test_hostile_rich_option_is_refused_at_post_naming_its_pointer_and_what_is_allowed(
        client, option, value, allowed):
    error = refused_alike(client, {"$rich": [{"text": "ok"}, {"text": "x", option: value}]})
    assert error["path"] == f"/data/value/$rich/1/{option}"
    assert allowed in error["message"]


@pytest.mark.parametrize("style", ["Strong" + HOSTILE_XML, "Heading 1", 7], ids=["xml", "paragraph-style", "number"])
def test_style_the_template_lacks_is_refused_by_the_render_naming_its_pointer(style):
    error = refusal({"$rich": [{"text": "ok"}, {"text": "x", "style": style}]})
    assert error["path"] == "/data/value/$rich/1/style"
    assert "character style" in error["message"]


def test_unknown_style_is_refused_listing_the_templates_character_styles():
    message = refusal({"$rich": [{"text": "x", "style": "NoSuchStyle"}]})["message"]
    assert "Book Title" in message and "Default Paragraph Font" in message and "NoSuchStyle" in message
    assert "more" in message  # the list is trimmed, not every style of the template


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("color", "#c00000", '<w:color w:val="C00000"/>'),
    ("color", "auto", '<w:color w:val="auto"/>'),
    ("highlight", "darkYellow", '<w:shd w:fill="808000"/>'),
    ("highlight", "#ffff00", '<w:shd w:fill="FFFF00"/>'),
    ("size", 48, '<w:sz w:val="48"/><w:szCs w:val="48"/>'),
    ("underline", True, '<w:u w:val="single"/>'),
    ("underline", "wave", '<w:u w:val="wave"/>'),
    ("font", "Noto Sans CJK SC", 'w:ascii="Noto Sans CJK SC"'),
    ("font", "eastAsia:微软雅黑", 'w:eastAsia="微软雅黑"'),
    ("style", "Intense Emphasis", '<w:rStyle w:val="IntenseEmphasis"/>'),
    ("style", "IntenseEmphasis", '<w:rStyle w:val="IntenseEmphasis"/>'),
    ("lang", "en-US", '<w:lang w:val="en-US"/>'),
    ("rtl", True, '<w:rtl w:val="true"/>'),
])
def test_valid_rich_option_is_written_as_its_ooxml_value(option, value, expected):
    xml = rendered_part({"value": {"$rich": [{"text": "文字", option: value}]}})
    assert expected in xml


@pytest.mark.parametrize("option", ["highlight", "underline"])
def test_none_leaves_the_option_out(option):
    xml = rendered_part({"value": {"$rich": [{"text": "文字", option: "none"}]}})
    assert "<w:shd" not in xml and "<w:u " not in xml


def test_markup_in_rich_text_stays_the_text_of_its_run():
    hostile = '</w:t><w:fldSimple w:instr="FILENAME"/>&'
    root = etree.fromstring(rendered_part({"value": {"$rich": [{"text": hostile, "bold": True}]}}).encode())
    assert hostile in [t.text for t in root.iter(f"{{{W}}}t")]
    assert not list(root.iter(f"{{{W}}}fldSimple"))


def test_link_url_is_escaped_into_the_relationship_target():
    url = "https://example.org/search?a=1&b='2'#frag"
    rels = rendered_part({"value": {"$link": {"url": url, "text": "搜索"}}}, "word/_rels/document.xml.rels")
    assert "Target=\"https://example.org/search?a=1&amp;b='2'#frag\"" in rels


@pytest.mark.parametrize(("data", "pointer"), [
    ({"rows": [{"name": "ok"}, {"name": "a\x00b"}], "value": 1}, "/data/rows/1/name"),
    ({"codes": {"k\x1b": 1}, "value": 1}, "/data/codes/k\x1b"),
], ids=["in-a-value", "in-a-key"])
def test_control_character_in_plain_data_is_refused_at_post_with_its_pointer(client, data, pointer):
    with pytest.raises(InvalidData) as caught:
        render_docx(one_tag_template(), data)
    assert caught.value.errors[0]["path"] == pointer
    assert api_refusal(client, data) == caught.value.errors[0]
