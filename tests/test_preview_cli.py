"""``wenshu preview``: one warm LibreOffice re-rendering the PDF each time a file is saved."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest
from authoring import OFFER_DATA, offer_letter, word_template

from conftest import stop_process_tree
from core.settings import PROJECT_ROOT
from helpers import pdf_text

pytestmark = pytest.mark.e2e
ENV = {"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:1/0", "HOME": "/tmp"}
LINE_WAIT = 240  # seconds: a cold LibreOffice on a loaded machine, never a speed assertion


def wenshu(*args: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", *args]


def test_once_renders_one_pdf_prints_one_line_and_no_javaldx_warning(tmp_path):
    (tmp_path / "offer.docx").write_bytes(offer_letter())
    data = OFFER_DATA | {"candidate": {"nmae": "张三"}, "salary_item": OFFER_DATA["salary_items"]}
    (tmp_path / "data.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = subprocess.run(wenshu("preview", str(tmp_path / "offer.docx"), str(tmp_path / "data.json"),
                                   "--once"), capture_output=True, text=True, cwd=PROJECT_ROOT, env=ENV,
                            timeout=LINE_WAIT)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert " ok " in line and "offer.pdf" in line and "warning" not in line
    assert "javaldx" not in result.stderr + result.stdout
    text = pdf_text((tmp_path / "offer.pdf").read_bytes())
    assert "张三" in text and "基本工资" in text


def test_once_with_a_typo_prints_the_located_error_and_exits_1(tmp_path):
    (tmp_path / "t.docx").write_bytes(word_template("人均 {{ total / headcount }}"))
    (tmp_path / "d.json").write_text('{"total": 1, "headcount": 0}', encoding="utf-8")
    result = subprocess.run(wenshu("preview", str(tmp_path / "t.docx"), str(tmp_path / "d.json"), "--once",
                                   "-o", str(tmp_path / "out.pdf")),
                            capture_output=True, text=True, cwd=PROJECT_ROOT, env=ENV, timeout=LINE_WAIT)
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert "error" in line and "ZeroDivisionError" in line and "paragraph 1" in line
    assert "{{ total / headcount }}" in line
    assert not (tmp_path / "out.pdf").exists()


def test_saving_either_file_renders_a_fresh_pdf_in_the_same_session(tmp_path):
    template, data, out = tmp_path / "t.docx", tmp_path / "d.json", tmp_path / "out.pdf"
    template.write_bytes(word_template("甲方：{{ party }}"))
    data.write_text('{"party": "第一版"}', encoding="utf-8")
    proc = subprocess.Popen(wenshu("preview", str(template), str(data), "-o", str(out)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT, env=ENV, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        assert " ok " in lines.get(timeout=LINE_WAIT)
        assert "第一版" in pdf_text(out.read_bytes())
        _save(data, '{"party": "第二版"}'.encode())
        assert " ok " in lines.get(timeout=LINE_WAIT)
        assert "第二版" in pdf_text(out.read_bytes())
        _save(template, word_template("乙方：{{ party }}"))
        assert " ok " in lines.get(timeout=LINE_WAIT)
        assert "乙方：第二版" in pdf_text(out.read_bytes()).replace(" ", "")
    finally:
        stop_process_tree(proc)
    assert "javaldx" not in proc.stderr.read()


def _save(path, content: bytes) -> None:
    """Save as Word does (a new file renamed over the old), with a modification time surely past
    the previous one whatever the file system's resolution."""
    fresh = path.with_name(path.name + ".saving")
    fresh.write_bytes(content)
    stamp = time.time() + 2
    os.utime(fresh, (stamp, stamp))
    os.replace(fresh, path)
