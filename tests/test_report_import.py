"""Last year's published report imported as this year's draft (``POST /v1/templates/{name}/import``,
``wenshu import``).

Round trips through the real pipeline: each bundled sample rendered (PDF and DOCX) and imported
back gives the same data; a report laid out by another tool (tests/foreign_report.py: python-docx
defaults, other widths and fonts, converted by LibreOffice) gives its fields and lists what it
could not place. Hostile files — damaged, too many pages, a zip bomb, a decompression bomb — end
in a 4xx problem, never a 500, and the parse runs under the import limits in a child process.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from foreign_report import EXTRA_ROW, NOTE, foreign_docx
from pypdf import PdfWriter

from helpers import assert_problem, docx_with

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("2019", "2021")


def bundled(variant: str) -> tuple[bytes, dict]:
    folder = ROOT / "templates" / f"gov-info-annual-report-{variant}"
    return (folder / "template.docx").read_bytes(), json.loads((folder / "sample.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def samples(pipeline) -> dict[str, dict]:
    """Each bundled sample rendered once: {variant: {"pdf", "docx", "data"}}."""
    out = {}
    for variant in VARIANTS:
        docx, data = bundled(variant)
        out[variant] = {**pipeline.render(docx, data, formats=("pdf", "docx")), "data": data}
    return out


@pytest.fixture(scope="module")
def foreign(pipeline) -> dict:
    """The seed report as another office would publish it: {"docx", "pdf", "data"}."""
    _docx, data = bundled("2019")
    docx = foreign_docx(data)
    return {"docx": docx, "pdf": pipeline.supervisor.convert(docx, "pdf", [], False), "data": data}


def post(api, name: str, content: bytes, filename: str = "report.pdf"):
    return api.post(f"/v1/templates/{name}/import", data={"file": (io.BytesIO(content), filename)},
                    content_type="multipart/form-data")


@pytest.fixture(scope="module")
def api(app):
    return app.test_client()


# ---------------------------------------------------------------- round trips ----------------------
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_a_rendered_sample_imports_back_to_the_same_data(api, samples, variant, kind):
    answer = post(api, f"gov-info-annual-report-{variant}", samples[variant][kind], f"report.{kind}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["unread"] == [] and body["problems"] == []
    assert body["data"] == samples[variant]["data"]


def test_blank_cells_stay_null_and_zeros_stay_zero(api, samples):
    data = post(api, "gov-info-annual-report-2019", samples["2019"]["pdf"]).get_json()["data"]
    assert data["applications"]["results"]["partially_disclosed"]["total"] is None
    assert data["applications"]["carried_over"]["total"] == 0
    assert data["proactive"]["procurement"] == {"count": "9（件）", "amount": "3万元"}


def test_a_report_from_another_tool_gives_its_fields_and_lists_what_it_could_not_read(api, foreign):
    body = post(api, "gov-info-annual-report-2019", foreign["pdf"]).get_json()
    want, got = foreign["data"], body["data"]
    for key in ("agency", "year", "preamble", "overview", "section_titles", "shortcomings", "other_matters",
                "reviews_litigation"):
        assert got[key] == want[key], key
    unread = [entry["what"] for entry in body["unread"]]
    assert any(EXTRA_ROW[0] in what for what in unread), unread
    assert any(NOTE in what for what in unread), unread
    missing = [what for what in unread if what.startswith("no row for applications.")]
    got_rows, want_rows = flat_rows(got["applications"]), flat_rows(want["applications"])
    for path, row in want_rows.items():
        if not any(f"applications.{path} " in what for what in missing):
            assert got_rows[path] == row, path
    assert len(missing) <= 2, missing  # a row the other tool let a page break cut, at most
    proactive = {k: {f: v for f, v in row.items() if f != "label_note"} for k, row in want["proactive"].items()}
    assert got["proactive"] == proactive  # the other tool printed no 规章（市政府令） notes


def test_the_other_tools_docx_reads_the_same(api, foreign):
    body = post(api, "gov-info-annual-report-2019", foreign["docx"], "report.docx").get_json()
    assert body["data"]["applications"] == foreign["data"]["applications"]
    assert body["data"]["overview"] == foreign["data"]["overview"]
    unread = [entry["what"] for entry in body["unread"]]
    assert len(unread) == 2 and EXTRA_ROW[0] in unread[0] and NOTE in unread[1], unread


def flat_rows(node: dict, prefix: str = "") -> dict[str, dict]:
    out = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if "total" in value and not isinstance(value["total"], dict):
            out[path] = value
        else:
            out.update(flat_rows(value, path + "."))
    return out


def test_validation_problems_come_with_the_draft(api, pipeline):
    docx, data = bundled("2021")
    broken = copy.deepcopy(data)
    broken["applications"]["new_requests"]["total"] += 1  # 勾稽关系 broken in the published report
    pdf = pipeline.render(docx, broken, formats=("pdf",))["pdf"]
    body = post(api, "gov-info-annual-report-2021", pdf).get_json()
    assert body["data"]["applications"]["new_requests"]["total"] == broken["applications"]["new_requests"]["total"]
    assert any(p["path"].startswith("/data/applications/new_requests") for p in body["problems"]), body["problems"]


def test_cli_import_prints_the_data(samples, tmp_path):
    report = tmp_path / "last-year.pdf"
    report.write_bytes(samples["2021"]["pdf"])
    done = subprocess.run([sys.executable, "-m", "cli.main", "import", "gov-info-annual-report-2021", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"] == samples["2021"]["data"]


# ---------------------------------------------------------------- hostile and wrong input ----------
def many_pages(count: int) -> bytes:
    writer = PdfWriter()
    for _ in range(count):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A valid .docx carrying a 200 MB entry of zeros that compresses to about 200 kB."""
    raw = io.BytesIO(docx_with("去年的报告"))
    with zipfile.ZipFile(raw, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/bomb.bin", b"\0" * (200 * 1024 * 1024))
    return raw.getvalue()


def decompression_bomb_pdf() -> bytes:
    """One page whose content stream inflates from ~0.5 MB to 300 MB of drawing operators."""
    stream = zlib.compress(b"0 0 m 1 1 l S\n" * (300 * 1024 * 1024 // 14), 9)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


@pytest.fixture(scope="module")
def tight(settings):
    """An API whose imports have small limits: 1 MB, 1 CPU second, 512 MB."""
    from service.app import create_app

    return create_app(settings.with_(import_max_bytes=1_000_000, import_cpu_seconds=1.0,
                                     import_memory=512 * 1024 * 1024)).test_client()


@pytest.mark.parametrize("content, words", [
    (b"%PDF-1.7\n1 0 obj << /Kids [" + b"[" * 5000 + b"\n%%EOF", "not a readable PDF"),
    (b"%PDF-1.4\n" + bytes(range(256)) * 40, "not a readable PDF"),
    (b"PK\x03\x04 not really a zip", "docx"),
    (b"Dear colleagues, last year's report is attached.", "PDF or a .docx"),
])
def test_a_damaged_or_foreign_file_is_a_clear_422(api, content, words):
    body = assert_problem(post(api, "gov-info-annual-report-2019", content), 422)
    assert body["type"].endswith("/unreadable-report") and words in body["detail"], body


def test_a_pdf_past_the_page_cap_is_refused_before_reading(api, settings):
    body = assert_problem(post(api, "gov-info-annual-report-2019", many_pages(settings.import_max_pages + 1)), 422)
    assert f"{settings.import_max_pages + 1} pages" in body["detail"]


def test_a_zip_bomb_docx_is_refused(api):
    body = assert_problem(post(api, "gov-info-annual-report-2019", zip_bomb_docx(), "report.docx"), 422)
    assert body["type"].endswith("/unreadable-report") and "refused" in body["detail"]


def test_a_decompression_bomb_pdf_ends_at_the_import_limits(tight):
    body = assert_problem(post(tight, "gov-info-annual-report-2019", decompression_bomb_pdf()), 422)
    assert body["type"].endswith("/unreadable-report")


def test_a_report_over_the_size_cap_is_413(tight):
    body = assert_problem(post(tight, "gov-info-annual-report-2019", b"%PDF-1.4\n" + b" " * 2_000_000), 413)
    assert "WENSHU_IMPORT_MAX_BYTES" in body["detail"]


@pytest.mark.parametrize("name, status", [("invoice", 404), ("no-such-template", 404)])
def test_templates_without_an_importer_are_404(api, name, status):
    assert_problem(post(api, name, b"%PDF-1.4\n"), status)


def test_a_request_without_the_file_part_is_400(api):
    body = assert_problem(api.post("/v1/templates/gov-info-annual-report-2019/import", data={"x": "y"},
                                   content_type="multipart/form-data"), 400)
    assert body["errors"][0]["path"] == "file"
