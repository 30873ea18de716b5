"""``$chart``: bar, line and pie charts from JSON series, embedded at their size with zh-CN labels."""

from __future__ import annotations

import io
import warnings
import zipfile

import pdfplumber
import pytest
from finish_kit import MM, post_adhoc
from lxml import etree
from PIL import Image

from core.errors import InvalidData
from core.typed_chart import check_chart
from core.typed_values import check_typed_values
from helpers import assert_problem, docx_with
from worker.charts import chart_png

pytestmark = pytest.mark.e2e

BLUE, ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)  # matplotlib's first two series colours
BAR = {"type": "bar", "title": "政府信息公开申请办理情况", "unit": "件", "categories": ["2023年"],
       "series": [{"name": "申请", "values": [100]}, {"name": "答复", "values": [50]}],
       "width_mm": 120, "height_mm": 80}
PIE = {"type": "pie", "title": "办理结果", "categories": ["予以公开", "部分公开", "不予公开"],
       "series": [{"name": "结果", "values": [60, 25, 15]}], "width_mm": 70, "height_mm": 70}
LINE = {"type": "line", "title": "月度趋势", "categories": ["一月", "二月", "三月"],
        "series": [{"name": "收入", "values": [1.5, None, 3]}, {"name": "支出", "values": [-1, 2, 2.5]}]}
TEMPLATE = docx_with("图一 {{ bar }}", "图二 {{ pie }}", "图三 {{ line }}")


@pytest.fixture(scope="module")
def files(pipeline) -> dict[str, bytes]:
    data = {"bar": {"$chart": BAR}, "pie": {"$chart": PIE}, "line": {"$chart": LINE}}
    return pipeline.render(TEMPLATE, data, ["pdf", "docx"])


def test_charts_are_embedded_at_their_requested_size(files):
    with pdfplumber.open(io.BytesIO(files["pdf"])) as pdf:
        sizes = [(round(i["width"] / MM), round(i["height"] / MM)) for p in pdf.pages for i in p.images]
    assert sorted(sizes) == [(70, 70), (120, 80), (150, 90)]  # the line chart takes the default size


def test_chart_title_is_the_pictures_alternative_text(files):
    document = etree.fromstring(zipfile.ZipFile(io.BytesIO(files["docx"])).read("word/document.xml"))
    descriptions = [e.get("descr") for e in document.iter("{*}docPr")]
    assert descriptions == ["政府信息公开申请办理情况", "办理结果", "月度趋势"]


def colour_pixels(png: bytes, colour: tuple[int, int, int]) -> int:
    counts = Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 24)
    return next((n for n, c in counts if c == colour), 0)


def test_bars_are_drawn_in_proportion_to_their_values():
    png = chart_png(check_chart(BAR | {"series": [{"name": "甲", "values": [100]}]}, ()))
    alone = colour_pixels(png, BLUE)
    png = chart_png(check_chart(BAR, ()))
    blue, orange = colour_pixels(png, BLUE), colour_pixels(png, ORANGE)
    assert alone > blue > 0  # the legend aside, the bar is narrower with a neighbour
    assert 1.7 < blue / orange < 2.3  # 100 against 50


def test_chinese_labels_draw_with_the_cjk_font_and_no_missing_glyphs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for tofu
        for spec in (BAR, PIE, LINE):
            assert chart_png(check_chart(spec, ())).startswith(b"\x89PNG")


@pytest.mark.parametrize(("change", "where", "says"), [
    ({"series": [{"name": "a", "values": [1, 2, 3]}, {"name": "b", "values": [1, 2, "x"]}]},
     "/series/1/values/2", "a number"),
    ({"series": [{"name": "a", "values": [1, 2]}]}, "/series/0/values", "3 numbers, one per category"),
    ({"series": [{"name": "a", "values": [1, float("nan"), 3]}]}, "/series/0/values/1", "a number"),
    ({"type": "radar"}, "/type", "bar, line, pie"),
    ({"categories": []}, "/categories", "1 to 60"),
    ({"categories": ["a" * 41, "b", "c"]}, "/categories/0", "at most 40"),
    ({"series": [{"name": str(i), "values": [1, 2, 3]} for i in range(13)]}, "/series", "1 to 12"),
    ({"type": "pie", "series": [{"name": "a", "values": [1, -2, 3]}]}, "/series/0/values/1", "at least 0"),
    ({"type": "pie", "series": [{"name": "a", "values": [0, 0, 0]}]}, "/series/0/values", "above 0"),
    ({"width_mm": 1000}, "/width_mm", "millimetres"),
    ({"legend": True}, "", "unknown $chart option"),
])
def test_bad_chart_data_is_refused_naming_the_value(change, where, says):
    with pytest.raises(InvalidData) as caught:
        check_typed_values({"chart": {"$chart": LINE | change}})
    assert caught.value.errors[0]["path"] == "/data/chart/$chart" + where
    assert says in caught.value.errors[0]["message"]


def test_api_answers_422_with_the_pointer_of_the_bad_value(app):
    chart = LINE | {"series": [{"name": "a", "values": [1, 2, 3]}, {"name": "b", "values": [1, 2, True]}]}
    body = assert_problem(post_adhoc(app.test_client(), TEMPLATE, {"chart": {"$chart": chart}}))
    assert body["errors"][0]["path"] == "/data/chart/$chart/series/1/values/2"


def test_markup_in_a_chart_title_stays_text(pipeline):
    title = '"/><w:fldSimple w:instr="INCLUDETEXT x"/><a b="'
    chart = LINE | {"title": title}
    docx = pipeline.render(docx_with("{{ c }}"), {"c": {"$chart": chart}}, ["docx"])["docx"]
    document = etree.fromstring(zipfile.ZipFile(io.BytesIO(docx)).read("word/document.xml"))
    assert [e.get("descr") for e in document.iter("{*}docPr")] == [title]
    assert not list(document.iter("{*}fldSimple"))
