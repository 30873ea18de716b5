"""``options.pdf``: passwords and permissions (AES-256), metadata, and signatures that pyHanko validates."""

from __future__ import annotations

import io
import subprocess

import pytest
from cryptography import x509
from finish_kit import make_p12, post_adhoc, signing_pipeline, validation
from pypdf import PdfReader
from pypdf.constants import UserAccessPermissions as Perm

from core.errors import InvalidRequest
from helpers import assert_problem, docx_with, pdf_text
from worker.pipeline import Pipeline

pytestmark = pytest.mark.e2e

TEMPLATE = docx_with("政府信息公开工作年度报告", "{{ body }}")
DATA = {"body": "机密内容：仅供审阅。"}


def render(pipeline: Pipeline, pdf_options: dict) -> bytes:
    return pipeline.render(TEMPLATE, DATA, ["pdf"], {"pdf": pdf_options})["pdf"]


def opens_with(pdf: bytes, password: str | None) -> str | None:
    """What poppler (a reader) shows with ``password``: the text, or None when it cannot open it."""
    args = ["pdftotext", "-raw"] + (["-upw", password] if password is not None else []) + ["-", "-"]
    done = subprocess.run(args, input=pdf, capture_output=True)
    return done.stdout.decode() if done.returncode == 0 else None


@pytest.fixture(scope="module")
def locked(pipeline) -> bytes:
    return render(pipeline, {"user_password": "打开-123", "owner_password": "owner-secret", "permissions": ["print"]})


def test_encrypted_pdf_opens_only_with_its_password(locked):
    assert opens_with(locked, None) is None
    assert opens_with(locked, "wrong") is None
    assert "机密内容：仅供审阅。" in opens_with(locked, "打开-123")


def test_encryption_is_aes_256(locked):
    encrypt = PdfReader(io.BytesIO(locked)).trailer["/Encrypt"]
    assert (encrypt["/V"], encrypt["/R"]) == (5, 6)
    assert encrypt["/CF"]["/StdCF"]["/CFM"] == "/AESV3"


def test_permissions_are_reported_as_granted(locked):
    reader = PdfReader(io.BytesIO(locked))
    assert reader.decrypt("打开-123")
    granted = reader.user_access_permissions
    assert Perm.PRINT in granted
    assert Perm.EXTRACT not in granted and Perm.MODIFY not in granted and Perm.ADD_OR_MODIFY not in granted
    assert Perm.EXTRACT_TEXT_AND_GRAPHICS in granted  # screen readers keep their access


def test_owner_password_alone_opens_freely_with_the_permissions_withheld(pipeline):
    pdf = render(pipeline, {"owner_password": "owner-secret", "permissions": ["print", "copy"]})
    assert "机密内容" in opens_with(pdf, None)
    reader = PdfReader(io.BytesIO(pdf))
    reader.decrypt("")
    assert Perm.EXTRACT in reader.user_access_permissions and Perm.MODIFY not in reader.user_access_permissions


def test_metadata_reaches_the_pdf(pipeline):
    pdf = render(pipeline, {"metadata": {"title": "2023年度报告", "author": "某某市人民政府办公室",
                                         "subject": "政府信息公开", "keywords": "年度报告, 信息公开"}})
    info = PdfReader(io.BytesIO(pdf)).metadata
    assert (info.title, info.author, info.subject) == ("2023年度报告", "某某市人民政府办公室", "政府信息公开")
    assert info["/Keywords"] == "年度报告, 信息公开"


# --- signatures: a self-signed certificate made here, configured as ops would (PKCS#12 + password) --------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str, x509.Certificate]:
    return make_p12(tmp_path_factory.mktemp("sign"))


@pytest.fixture(scope="module")
def signing(pipeline, certificate) -> Pipeline:
    """The session's LibreOffice, with settings that carry the certificate."""
    return signing_pipeline(pipeline, certificate)


@pytest.fixture(scope="module")
def signed(signing) -> bytes:
    return render(signing, {"sign": {"reason": "审核通过", "location": "北京"}})


def test_signature_validates_with_the_configured_certificate(signed, certificate):
    status = validation(signed, certificate[2])
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.signing_cert.subject.native["common_name"] == "文书 测试签章"
    assert "机密内容：仅供审阅。" in pdf_text(signed)


def test_signature_fails_after_one_byte_of_the_document_changes(signed, certificate):
    at = signed.index(b"\n", signed.index(b"%PDF")) + 2  # inside the binary comment: the PDF still parses
    tampered = signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1:]
    status = validation(tampered, certificate[2])
    assert not status.intact and not status.bottom_line  # the digest no longer matches the signed bytes


def test_visible_signature_has_its_box_on_the_page(signing, certificate):
    pdf = render(signing, {"sign": {"visible": True, "page": 1, "box_mm": [20, 20, 60, 20]}})
    assert validation(pdf, certificate[2]).intact
    (annotation,) = [a.get_object() for a in PdfReader(io.BytesIO(pdf)).pages[0]["/Annots"]]
    x0, y0, x1, y1 = (round(float(v) / (72 / 25.4)) for v in annotation["/Rect"])
    assert (annotation["/FT"], x0, y0, x1, y1) == ("/Sig", 20, 20, 80, 40)


def test_invisible_signature_has_an_empty_box(signed):
    (annotation,) = [a.get_object() for a in PdfReader(io.BytesIO(signed)).pages[0]["/Annots"]]
    assert [float(v) for v in annotation["/Rect"]] == [0, 0, 0, 0]


def test_visible_signature_on_a_page_that_does_not_exist_names_the_field(signing):
    with pytest.raises(InvalidRequest) as caught:
        render(signing, {"sign": {"visible": True, "page": 9}})
    assert caught.value.errors[0]["path"] == "/options/pdf/sign/page"


@pytest.mark.parametrize(("pdf", "where"), [
    ({"pdfa": "2b", "user_password": "x"}, "/options/pdf/user_password"),
    ({"permissions": ["print"]}, "/options/pdf/permissions"),
    ({"owner_password": "o", "permissions": ["print", "fly"]}, "/options/pdf/permissions/1"),
    ({"user_password": ""}, "/options/pdf/user_password"),
    ({"metadata": {"title": "x" * 501}}, "/options/pdf/metadata/title"),
    ({"sign": {}, "user_password": "x"}, "/options/pdf/sign"),
    ({"sign": {"box_mm": [1, 2, 3, 4]}}, "/options/pdf/sign/box_mm"),
    ({"pdfa": "2b", "sign": {"visible": True}}, "/options/pdf/sign/visible"),
    ({"sign": {"visible": True, "box_mm": [1, 2, 3]}}, "/options/pdf/sign/box_mm"),
    ({"sign": {}}, "/options/pdf/sign"),  # this API has no certificate configured
])
def test_bad_pdf_options_are_a_422_before_queueing(app, pdf, where):
    body = assert_problem(post_adhoc(app.test_client(), TEMPLATE, DATA, {"pdf": pdf}))
    assert where in [e["path"] for e in body["errors"]], body
    assert "job" not in body


def test_options_travel_through_the_queue_to_the_worker(client):
    """The whole path: POST with options, the worker encrypts and watermarks, the download is protected."""
    options = {"pdf": {"user_password": "secret"}, "watermark": {"text": "样稿"}}
    response = post_adhoc(client, TEMPLATE, DATA, options, query="wait=60&download=pdf")
    assert response.status_code == 200, response.get_data(as_text=True)
    pdf = response.get_data()
    assert opens_with(pdf, None) is None
    assert "机密内容：仅供审阅。" in opens_with(pdf, "secret")
