"""The embedded CLI: render and lint from a shell, with no Redis and a LibreOffice of its own."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest

from core.settings import PROJECT_ROOT
from helpers import pdf_text, squash

pytestmark = pytest.mark.e2e
INVOICE = PROJECT_ROOT / "templates" / "invoice"
CORPUS = PROJECT_ROOT / "tests" / "fixtures" / "peer-corpus" / "templates"


def wenshu(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env_free_of_redis = {"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0", "HOME": "/tmp"}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True,
                          input=stdin, cwd=PROJECT_ROOT, env=env_free_of_redis, timeout=180)


def test_render_bundled_template_to_pdf_without_redis(tmp_path):
    out = tmp_path / "发票.pdf"
    result = wenshu("render", "invoice", str(INVOICE / "sample.json"), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["format"] == "pdf"
    sample = json.loads((INVOICE / "sample.json").read_text(encoding="utf-8"))
    assert squash(sample["invoice_no"]) in squash(pdf_text(out.read_bytes()))


def test_render_docx_path_to_docx_from_stdin_data(tmp_path):
    out = tmp_path / "order.docx"
    data = {"customer_name": "王小明", "items": [{"desc": "砚台", "qty": 2, "price": "80"}],
            "in_europe": False, "is_paid": True, "company_name": "文书", "total_price": "160"}
    result = wenshu("render", str(CORPUS / "order_tpl.docx"), "-", "-o", str(out), stdin=json.dumps(data))
    assert result.returncode == 0, result.stderr
    document = docx.Document(str(out))
    text = "\n".join(p.text for p in document.paragraphs)
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "王小明" in text and "砚台" in cells


def test_render_refuses_data_that_breaks_the_schema(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"invoice_no": 5}), encoding="utf-8")
    result = wenshu("render", "invoice", str(bad), "-o", str(tmp_path / "x.pdf"))
    assert result.returncode == 2
    problem = json.loads(result.stderr[result.stderr.index("{"):])
    assert problem["status"] == 422 and problem["errors"]
    assert not (tmp_path / "x.pdf").exists()


def test_lint_reports_part_and_paragraph_and_exits_nonzero(tmp_path):
    broken = tmp_path / "broken.docx"
    document = docx.Document()
    document.add_paragraph("first")
    document.add_paragraph("second {{ name }")
    document.save(str(broken))
    result = wenshu("lint", str(broken))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["problems"][0]["part"] == "word/document.xml"
    assert report["problems"][0]["paragraph"] == 2


def test_lint_passes_a_clean_template():
    result = wenshu("lint", str(INVOICE / "template.docx"))
    assert result.returncode == 0, result.stdout
    assert "items" in json.loads(result.stdout)["variables"]


def test_lint_rejects_a_file_that_is_not_a_docx(tmp_path):
    fake = tmp_path / "fake.docx"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("hello.txt", "not a document")
    result = wenshu("lint", str(fake))
    assert result.returncode == 2
    assert "422" in result.stderr


def test_unknown_subcommand_is_a_usage_error():
    assert wenshu("frobnicate").returncode == 2


def test_cli_parser_names_the_four_commands():
    from cli.main import build_parser

    text = build_parser().format_help()
    for command in ("serve", "worker", "render", "lint"):
        assert command in text
    assert Path(PROJECT_ROOT / "pyproject.toml").read_text().count('wenshu = "cli.main:main"') == 1
