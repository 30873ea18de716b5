"""``$seal`` over the text it stamps, moving nothing; ``options.watermark`` on every page of every section."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pdfplumber
import pytest
from docx import Document
from finish_kit import b64, post_adhoc, seal_png
from PIL import Image

from core.errors import InvalidData
from core.typed_values import check_typed_values
from helpers import assert_problem, docx_parts, docx_with, pdf_text, squash

pytestmark = pytest.mark.e2e

SIGNED = docx_with("特此报告。", "某某市人民政府办公室（盖章）{{ seal }}", "2024年1月1日")
SEAL = {"$seal": {"data": b64(seal_png()), "width_mm": 40, "offset_x_mm": -55, "offset_y_mm": -12}}


def words(pdf: bytes) -> dict[str, dict]:
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        page = doc.pages[0]
        return {w["text"]: w for w in page.extract_words()} | {"images": page.images}


@pytest.fixture(scope="module")
def sealed(pipeline) -> dict[str, bytes]:
    return pipeline.render(SIGNED, {"seal": SEAL}, ["pdf", "docx"])


def test_seal_is_drawn_over_the_text_it_stamps(sealed):
    found = words(sealed["pdf"])
    (image,) = found["images"]
    name = next(w for t, w in found.items() if t.startswith("某某市"))
    overlap_x = min(image["x1"], name["x1"]) - max(image["x0"], name["x0"])
    overlap_y = min(image["bottom"], name["bottom"]) - max(image["top"], name["top"])
    assert overlap_x > 50 and overlap_y > 5, (image, name)
    assert round((image["x1"] - image["x0"]) / (72 / 25.4)) == 40  # its width in mm


def test_text_under_the_seal_stays_where_it_was_and_extractable(sealed, pipeline):
    plain = pipeline.render(SIGNED, {"seal": ""})["pdf"]
    assert "某某市人民政府办公室（盖章）" in pdf_text(sealed["pdf"])
    for text in ("特此报告。", "2024年1月1日"):
        with_seal, without = words(sealed["pdf"]), words(plain)
        key = next(t for t in with_seal if t.startswith(text[:4]))
        assert (round(with_seal[key]["top"], 1), round(with_seal[key]["x0"], 1)) == (
            round(without[key]["top"], 1), round(without[key]["x0"], 1))


def test_seal_floats_in_front_of_the_text_unless_asked_behind(sealed, pipeline):
    def anchors(docx: bytes) -> list[str]:
        xml = zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml").decode()
        return [part.split('"')[0] for part in xml.split('behindDoc="')[1:]]
    assert anchors(sealed["docx"]) == ["0"]
    behind = {"$seal": SEAL["$seal"] | {"behind": True}}
    assert anchors(pipeline.render(SIGNED, {"seal": behind}, ["docx"])["docx"]) == ["1"]


@pytest.mark.parametrize(("change", "where", "says"), [
    ({"data": b64(b"\xff\xd8\xff\xe0 jpeg")}, "/data", "must be a PNG"),
    ({"data": "not base64!"}, "/data", "not valid base64"),
    ({"offset_x_mm": 601}, "/offset_x_mm", "millimetres"),
    ({"width_mm": 0}, "/width_mm", "millimetres"),
    ({"behind": "yes"}, "/behind", "true or false"),
    ({"src": "http://example.com/seal.png"}, "", "unknown $seal option"),
])
def test_bad_seal_values_are_refused_naming_the_field(change, where, says):
    with pytest.raises(InvalidData) as caught:
        check_typed_values({"seal": {"$seal": SEAL["$seal"] | change}})
    assert caught.value.errors[0]["path"] == "/data/seal/$seal" + where
    assert says in caught.value.errors[0]["message"]


def two_sections() -> bytes:
    """Four pages: a section of three with a first-page header of its own, then one inheriting its headers.

    python-docx copies the first section's properties, title page included, into the second.
    """
    document = Document()
    document.sections[0].different_first_page_header_footer = True
    document.sections[0].header.paragraphs[0].text = "页眉文字"
    for i in range(60):
        document.add_paragraph(f"第{i}段 正文内容。")
    document.add_section()
    document.add_paragraph("第二节 {{ name }}")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


MARK = {"text": "样稿 DRAFT", "color": "FF0000", "opacity": 0.5, "angle": 45, "size": 60}


def red_pixels(pdf: bytes, tmp_path, name: str) -> list[int]:
    """Pinkish-red pixels (the watermark at half opacity) on each page, rendered at 40 dpi."""
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True)
    counts = []
    for page in sorted(tmp_path.glob(f"{name}-*.png")):
        pixels = Image.open(page).convert("RGB").getcolors(maxcolors=1 << 24)
        counts.append(sum(n for n, (r, g, b) in pixels if r > 200 and r - g > 40 and r - b > 40))
    return counts


@pytest.fixture(scope="module")
def watermarked(pipeline) -> dict[str, bytes]:
    return pipeline.render(two_sections(), {"name": "甲"}, ["pdf", "docx"], {"watermark": MARK})


def test_watermark_is_on_every_page_of_every_section(watermarked, pipeline, tmp_path):
    marked = red_pixels(watermarked["pdf"], tmp_path, "marked")
    plain = red_pixels(pipeline.render(two_sections(), {"name": "甲"})["pdf"], tmp_path, "plain")
    assert len(marked) == len(plain) == 4
    assert all(count > 300 for count in marked), marked
    assert plain == [0, 0, 0, 0]


def test_watermark_leaves_the_text_and_the_header_as_they_were(watermarked):
    text = squash(pdf_text(watermarked["pdf"]))
    assert "第二节甲" in text and "第59段正文内容。" in text
    # The default header on pages 2 and 3; each section's first page (1 and 4) has an empty one.
    assert text.count("页眉文字") == 2
    assert "样稿" not in text  # drawn as outlines: copied text is not polluted


def test_watermark_is_words_own_watermark_shape_in_every_header(watermarked):
    archive = zipfile.ZipFile(io.BytesIO(watermarked["docx"]))
    headers = [n for n in archive.namelist() if n.startswith("word/header")]
    assert len(headers) >= 2
    for name in headers:
        xml = archive.read(name).decode()
        assert 'string="样稿 DRAFT"' in xml and "PowerPlusWaterMarkObject" in xml, name


@pytest.mark.parametrize(("mark", "where"), [
    ({"text": ""}, "/options/watermark/text"),
    ({"text": "x" * 51}, "/options/watermark/text"),
    ({"text": "样稿", "opacity": 2}, "/options/watermark/opacity"),
    ({"text": "样稿", "angle": 180}, "/options/watermark/angle"),
    ({"text": "样稿", "color": "red"}, "/options/watermark/color"),
    ({"opacity": 0.2}, "/options/watermark/text"),
    ({"text": "样稿", "font": "x"}, "/options/watermark/font"),
])
def test_bad_watermark_is_a_422_before_queueing(app, mark, where):
    body = assert_problem(post_adhoc(app.test_client(), SIGNED, {"seal": ""}, {"watermark": mark}))
    assert where in [e["path"] for e in body["errors"]], body
    assert "job" not in body


def test_markup_in_a_watermark_stays_text(pipeline):
    text = '"/><v:imagedata src="http://example.com/x.png"/>'
    docx = pipeline.render(docx_with("正文"), {}, ["docx"], {"watermark": {"text": text}})["docx"]
    archive = zipfile.ZipFile(io.BytesIO(docx))
    header = next(archive.read(n).decode() for n in archive.namelist() if n.startswith("word/header"))
    assert "v:imagedata" not in header.replace("&lt;v:imagedata", "")
    assert "&quot;/&gt;&lt;v:imagedata" in header


def test_a_damaged_seal_png_is_refused_naming_its_data(pipeline):
    broken = b64(seal_png()[:60])  # the signature and part of the header only
    with pytest.raises(InvalidData) as caught:
        pipeline.render(SIGNED, {"seal": {"$seal": {"data": broken}}}, ["docx"])
    assert caught.value.errors[0]["path"] == "/data/seal/$seal/data"


def test_the_same_request_gives_the_same_document_however_many_came_before():
    from worker.finishing import finish_docx
    from worker.render import render_docx

    two_seals = docx_with("{{ seal_a }} 甲方（盖章）", "{{ seal_b }} 乙方（盖章）")

    def produce() -> dict[str, bytes]:
        filled = render_docx(two_seals, {"seal_a": SEAL, "seal_b": SEAL})
        return docx_parts(finish_docx(filled, {"watermark": MARK}))

    first = produce()
    for _ in range(3):
        produce()  # a long-lived worker has made other seals and watermarks since
    assert produce() == first
    stacked = first["word/document.xml"].decode()
    assert stacked.count('relativeHeight="251659264"') == 1 and stacked.count('relativeHeight="251659265"') == 1
