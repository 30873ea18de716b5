"""Behind the upload checks, LibreOffice itself fetches nothing a template points at, and
nothing but its own worker can drive it.

``check_docx`` rejects external relationships at upload, and the pipeline checks every rendered
document again before conversion (tests/test_docx_safety.py). These tests hand such files straight
to the LibreOffice supervisor, as if both checks had a hole, and look at what comes out: the
hardened profile (docker/libreoffice/registrymodifications.xcu) must read no local file and make no
network request. The API part checks the same files are refused at the door.
"""

from __future__ import annotations

import io
import os
import re
import struct
import threading
import zipfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from docx import Document
from docx.shared import Mm

from core.settings import Settings
from faultkit import descendants
from helpers import docx_with, pdf_image_count, pdf_text
from worker.libreoffice import Supervisor

pytestmark = pytest.mark.e2e



def _png(width: int = 2, height: int = 2) -> bytes:
    """A valid red RGB PNG (pdfimages and libpng read it without complaint)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = _png()
RELS = "word/_rels/document.xml.rels"


def picture_docx(caption: str = "picture below") -> bytes:
    """A document with one embedded picture (the control: it must show up in the PDF)."""
    doc = Document()
    doc.add_paragraph(caption)
    doc.add_picture(io.BytesIO(PNG), width=Mm(30))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def linked_picture_docx(target: str) -> bytes:
    """The same document, its picture turned into a link to ``target`` (TargetMode="External")."""
    src = zipfile.ZipFile(io.BytesIO(picture_docx("linked picture below")))
    document = src.read("word/document.xml").decode()
    rid = re.search(r'r:embed="(rId\d+)"', document).group(1)
    document = document.replace(f'r:embed="{rid}"', 'r:link="rIdEvil"')
    rels = src.read(RELS).decode().replace(
        "</Relationships>",
        '<Relationship Id="rIdEvil" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        f'relationships/image" Target="{target}" TargetMode="External"/></Relationships>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = {"word/document.xml": document.encode(), RELS: rels.encode()}.get(
                info.filename, src.read(info.filename))
            dst.writestr(info.filename, data)
    return out.getvalue()


@pytest.fixture()
def canary(tmp_path):
    path = tmp_path / "wenshu-canary.png"
    path.write_bytes(PNG)
    assert str(path).startswith("/tmp/")
    return path


@pytest.fixture()
def loopback_server():
    """An HTTP server on 127.0.0.1 that records every request and serves the PNG."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(PNG)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], requests
    server.shutdown()
    server.server_close()


def test_embedded_picture_shows_in_pdf(pipeline, tmp_path):
    # The control for the two tests below: pdfimages does see a picture LibreOffice drew.
    pdf = pipeline.supervisor.convert(picture_docx(), "pdf")
    assert pdf_image_count(pdf, tmp_path) == 1


def test_linked_local_file_image_is_not_read(pipeline, canary, tmp_path):
    pdf = pipeline.supervisor.convert(linked_picture_docx(canary.as_uri()), "pdf")
    assert "linked picture below" in pdf_text(pdf)
    assert pdf_image_count(pdf, tmp_path) == 0


def test_linked_http_image_is_not_fetched(pipeline, loopback_server, tmp_path):
    port, requests = loopback_server
    pdf = pipeline.supervisor.convert(linked_picture_docx(f"http://127.0.0.1:{port}/x.png"), "pdf")
    assert "linked picture below" in pdf_text(pdf)
    assert pdf_image_count(pdf, tmp_path) == 0
    assert requests == []


@pytest.mark.slow
def test_unhardened_profile_would_read_the_linked_file(canary, tmp_path):
    # Contrast: the same file through a LibreOffice with a default profile shows the canary, so
    # the empty result above is the hardened profile's doing, not an accident of the document.
    empty_seed = tmp_path / "empty-seed"
    empty_seed.mkdir()
    unhardened = Supervisor(Settings(env="test", lo_profile=empty_seed))
    try:
        pdf = unhardened.convert(linked_picture_docx(canary.as_uri()), "pdf")
    finally:
        unhardened.stop()
    assert pdf_image_count(pdf, tmp_path) == 1


@pytest.mark.parametrize("target", ["file:///tmp/wenshu-canary.png", "http://127.0.0.1:9/x.png"])
def test_api_rejects_linked_image_naming_the_part(app, target):
    client = app.test_client()
    data = linked_picture_docx(target)
    rendered = client.post("/v1/renders", data={"template": (io.BytesIO(data), "t.docx"), "data": "{}"},
                           content_type="multipart/form-data")
    uploaded = client.put("/v1/templates/hostile-linked-image", data={"file": (io.BytesIO(data), "t.docx")},
                          content_type="multipart/form-data")
    for r in (rendered, uploaded):
        assert r.status_code == 422, r.get_json()
        problem = r.get_json()
        assert any(e.get("part") == RELS and target in e.get("message", "") for e in problem["errors"]), problem


def _listening_tcp() -> dict[int, str]:
    """Socket inode → local "HEXADDR:HEXPORT" of every listening TCP socket, IPv4 and IPv6."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A":  # TCP_LISTEN
                    found[int(cols[9])] = cols[1]
    return found


def _listening_unix() -> dict[int, str]:
    """Socket inode → path of every listening Unix socket that has a path."""
    found = {}
    with open("/proc/net/unix") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if len(cols) >= 8 and int(cols[3], 16) & 0x10000:  # __SO_ACCEPTCON: listening
                found[int(cols[6])] = cols[7]
    return found


def _socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:["):-1]))
    return inodes


def test_libreoffice_takes_uno_on_a_pipe_nobody_else_can_open_and_on_no_tcp_port(pipeline):
    pdf = pipeline.render(docx_with("UNO over a pipe {{ n }}"), {"n": 7})["pdf"]
    assert "UNO over a pipe 7" in pdf_text(pdf)
    lo_server = pipeline.supervisor.process.proc.pid
    offices = [pid for pid, args in descendants(lo_server).items() if "soffice.bin" in args]
    assert len(offices) == 1
    office_sockets = _socket_inodes(offices[0])
    tcp = _listening_tcp()

    assert not office_sockets & tcp.keys(), "soffice listens on a TCP port"
    # The same reading does see lo_server's XML-RPC port (bytes in, bytes out), on 127.0.0.1 only.
    rpc_ports = [tcp[inode] for inode in _socket_inodes(lo_server) if inode in tcp]
    assert rpc_ports and all(address.startswith("0100007F:") for address in rpc_ports), rpc_ports
    # UNO itself: a Unix socket whose path lo_server unlinked once connected, so nothing else can
    # connect to it; soffice's other pipes may be connected to by their owner only.
    pipes = [path for inode, path in _listening_unix().items() if inode in office_sockets]
    uno = [path for path in pipes if "OSL_PIPE" in path and "wenshu-" in path]
    assert len(uno) == 1, pipes
    assert not os.path.exists(uno[0])
    others = [path for path in pipes if os.path.exists(path)]
    assert all(os.stat(path).st_mode & 0o077 == 0 for path in others), [oct(os.stat(p).st_mode) for p in others]
    # ...and conversions go on over the connection lo_server already holds.
    assert "still converting" in pdf_text(pipeline.render(docx_with("still converting"), {})["pdf"])
