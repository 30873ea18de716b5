"""What the finished-document tests (#13) share: decoding codes off page images, a seal PNG, ad-hoc POSTs."""

from __future__ import annotations

import base64
import datetime
import io
import json
import subprocess
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from worker.pipeline import Pipeline

MM = 72 / 25.4
"""PDF points per millimetre."""


def decoded_codes(pdf: bytes, tmp_path: Path, dpi: int = 300) -> list[str]:
    """Every symbol zbar reads off the PDF's pages rendered at ``dpi``: ``["QR-Code:…", "EAN-13:…"]``."""
    (tmp_path / "codes.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(tmp_path / "codes.pdf"), str(tmp_path / "page")],
                   check=True)
    pages = sorted(str(p) for p in tmp_path.glob("page*.png"))
    decoded = subprocess.run(["zbarimg", "-q", *pages], capture_output=True)
    assert decoded.returncode in (0, 4), decoded.stderr  # 4: nothing found
    return decoded.stdout.decode("utf-8").splitlines()


def seal_png(size: int = 400) -> bytes:
    """A red ring on a transparent background, as a seal image is."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((8, 8, size - 8, size - 8), outline=(220, 0, 0, 255), width=size // 20)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def post_adhoc(api, docx: bytes, data: dict, options: dict | None = None, query: str = ""):
    """``POST /v1/renders`` of an ad-hoc template (multipart) with ``data`` and request ``options``."""
    parts = {"template": (io.BytesIO(docx), "t.docx"), "data": json.dumps(data, ensure_ascii=False)}
    if options is not None:
        parts["options"] = json.dumps({"options": options}, ensure_ascii=False)
    return api.post(f"/v1/renders?{query}", data=parts, content_type="multipart/form-data")


def make_p12(directory: Path) -> tuple[str, str, x509.Certificate]:
    """A self-signed signing certificate as ops would configure it: (PKCS#12 path, its password, the cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "文书 测试签章"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wenshu tests")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / "signer.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", key, cert, None, serialization.BestAvailableEncryption(b"p12-secret")))
    return str(path), "p12-secret", cert


def signing_pipeline(pipeline: Pipeline, certificate: tuple[str, str, x509.Certificate]) -> Pipeline:
    """The session's LibreOffice, with settings that carry the certificate (WENSHU_SIGN_P12…)."""
    path, password, _ = certificate
    return Pipeline(pipeline.settings.with_(sign_p12=path, sign_p12_password=password), supervisor=pipeline.supervisor)


def validation(pdf: bytes, cert: x509.Certificate):
    """pyHanko's verdict on the PDF's one signature, trusting ``cert``."""
    trust = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=[trust]))
