"""The finishing steps on the .docx (watermark, properties) re-zip the package once, and not at all
when a render asks for neither; what they write is what the two separate passes wrote (issue #12)."""

from __future__ import annotations

import io
import zipfile

from docx import Document

from core.finish_options import pdf_of, watermark_of
from helpers import docx_with
from worker import watermark
from worker.doc_properties import set_properties
from worker.docx_zip import Package
from worker.finishing import finish_docx

OPTIONS = {"watermark": {"text": "样稿"},
           "pdf": {"metadata": {"title": "年度报告", "author": "办公室", "language": "zh-CN"}}}


def parts(docx: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def two_passes(docx: bytes) -> bytes:
    """What finishing did before: the watermark's package saved, then read again for the properties."""
    package = Package(docx)
    watermark.add_watermark(package, watermark_of(OPTIONS))
    package = Package(package.save())
    set_properties(package, pdf_of(OPTIONS).metadata)
    return package.save()


def test_watermark_and_properties_in_one_pass_write_the_parts_two_passes_wrote():
    rendered = docx_with("第一段", "第二段")
    expected = parts(two_passes(rendered))
    finished = finish_docx(rendered, OPTIONS)
    assert parts(finished) == expected
    properties = Document(io.BytesIO(finished)).core_properties
    assert (properties.title, properties.author, properties.language) == ("年度报告", "办公室", "zh-CN")
    assert any(b"PowerPlusWaterMarkObject" in data for name, data in parts(finished) if "header" in name)


def test_a_render_without_finishing_options_keeps_its_package_as_it_is():
    rendered = docx_with("正文")
    assert finish_docx(rendered, None) is rendered
    assert finish_docx(rendered, {"pdf": {"pdfa": "2b"}, "undefined": "warn"}) is rendered
