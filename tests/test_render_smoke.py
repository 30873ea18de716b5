"""The first thing an integrator does: POST data, wait, get a PDF that holds the data."""

import pytest

from helpers import pdf_text, squash

pytestmark = pytest.mark.e2e


def test_invoice_sample_renders_to_pdf_holding_its_data(client):
    sample = client.get("/v1/templates/invoice/sample").get_json()
    r = client.post("/v1/renders?wait=30", json={"template": "invoice", "data": sample,
                                                 "formats": ["pdf", "docx"], "filename": "发票-001"})
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["status"] == "finished", doc
    names = [f["name"] for f in doc["files"]]
    assert names == ["发票-001.pdf", "发票-001.docx"]
    pdf = client.get(doc["files"][0]["url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "filename*=UTF-8''%E5%8F%91%E7%A5%A8-001.pdf" in pdf.headers["Content-Disposition"]
    text = squash(pdf_text(pdf.data))
    assert squash(str(sample["buyer"]["name"])) in text
