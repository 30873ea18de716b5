"""Small helpers the tests share: reading what a user would read out of a PDF."""

from __future__ import annotations

import io
import re
import socket
import subprocess

from docx import Document


def pdf_text(pdf: bytes) -> str:
    """Text of a PDF as ``pdftotext -raw`` gives it (table rows kept in order)."""
    return subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode("utf-8")


def squash(text: str) -> str:
    """``text`` with all whitespace removed, as the fidelity measures compare it."""
    return re.sub(r"\s+", "", text)


def pdf_image_count(pdf: bytes, tmp_path) -> int:
    """Images in a PDF as ``pdfimages -list`` counts them."""
    path = tmp_path / "images.pdf"
    path.write_bytes(pdf)
    lines = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    return max(0, len(lines) - 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def docx_with(*paragraphs: str) -> bytes:
    """A .docx whose body holds one paragraph per string."""
    document = Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
