"""``$qr`` and ``$barcode``: read back off the rendered PDF's page image by zbar, as a scanner would."""

from __future__ import annotations

import io

import pdfplumber
import pytest
from finish_kit import MM, decoded_codes, post_adhoc

from core.errors import InvalidData
from core.typed_values import check_typed_values
from helpers import assert_problem, docx_with

pytestmark = pytest.mark.e2e

TEMPLATE = docx_with("查验码 {{ qr }}", "票据号 {{ code }}", "商品 {{ ean }}")
DATA = {
    "qr": {"$qr": {"data": "https://example.cn/verify?no=WS-2024-00127&名称=文书", "error": "H", "size_mm": 25}},
    "code": {"$barcode": {"data": "WS-2024-00127", "type": "code128", "width_mm": 60, "height_mm": 15}},
    "ean": {"$barcode": {"data": "690123456789", "type": "ean13", "width_mm": 40, "height_mm": 20}},
}


@pytest.fixture(scope="module")
def pdf(pipeline) -> bytes:
    return pipeline.render(TEMPLATE, DATA)["pdf"]


def test_qr_code_reads_back_from_the_page_image(pdf, tmp_path):
    assert "QR-Code:https://example.cn/verify?no=WS-2024-00127&名称=文书" in decoded_codes(pdf, tmp_path)


def test_code128_and_ean13_read_back_with_the_check_digit(pdf, tmp_path):
    codes = decoded_codes(pdf, tmp_path)
    assert "CODE-128:WS-2024-00127" in codes
    assert "EAN-13:6901234567892" in codes  # 2: the check digit of 690123456789


def test_codes_are_drawn_at_their_size_in_millimetres(pdf):
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        sizes = sorted((round(i["width"] / MM), round(i["height"] / MM)) for i in doc.pages[0].images)
    assert sizes == [(25, 25), (40, 20), (60, 15)]


@pytest.mark.parametrize(("value", "where", "says"), [
    ({"$qr": {"data": ""}}, "/data/v/$qr/data", "non-empty"),
    ({"$qr": {"data": "x" * 1001}}, "/data/v/$qr/data", "at most 1000"),
    ({"$qr": {"data": "x", "error": "X"}}, "/data/v/$qr/error", "L, M, Q, H"),
    ({"$qr": {"data": "x", "size_mm": 0}}, "/data/v/$qr/size_mm", "millimetres"),
    ({"$qr": {"data": "x", "url": "http://a"}}, "/data/v/$qr", "unknown $qr option"),
    ({"$qr": {"data": "a\x00b"}}, "/data/v/$qr/data", "control character"),
    ({"$qr": "https://example.cn"}, "/data/v/$qr", "$qr needs"),
    ({"$barcode": {"data": "6901234567891", "type": "ean13"}}, "/data/v/$barcode/data", "check digit"),
    ({"$barcode": {"data": "12ab", "type": "ean13"}}, "/data/v/$barcode/data", "12 or 13 digits"),
    ({"$barcode": {"data": "发票", "type": "code128"}}, "/data/v/$barcode/data", "printable ASCII"),
    ({"$barcode": {"data": "x", "type": "pdf417"}}, "/data/v/$barcode/type", "code128, ean13"),
    ({"$barcode": {"data": "x", "height_mm": "15"}}, "/data/v/$barcode/height_mm", "millimetres"),
    ({"$barcode": {"data": "x" * 81}}, "/data/v/$barcode/data", "at most 80"),
])
def test_bad_code_values_are_refused_naming_the_field(value, where, says):
    with pytest.raises(InvalidData) as caught:
        check_typed_values({"v": value})
    assert caught.value.errors[0]["path"] == where
    assert says in caught.value.errors[0]["message"]


def test_api_refuses_a_bad_code_before_queueing(app):
    body = assert_problem(post_adhoc(app.test_client(), TEMPLATE, {"qr": {"$qr": {"data": "x", "error": "Z"}}}))
    assert body["errors"][0]["path"] == "/data/qr/$qr/error"
    assert "job" not in body


def test_qr_data_too_long_for_its_level_is_refused_before_queueing():
    long_cjk = {"$qr": {"data": "文" * 500, "error": "H"}}  # 1 500 bytes of UTF-8: over version 40-H
    with pytest.raises(InvalidData) as caught:
        check_typed_values({"v": long_cjk})
    assert caught.value.errors[0]["path"] == "/data/v/$qr/data"
    assert "at most 1273" in caught.value.errors[0]["message"]
    check_typed_values({"v": {"$qr": {"data": "文" * 500, "error": "L"}}})  # 1 500 bytes fit at level L
