"""What the finished-document features cost per render (issue #13), measured in one run.

Renders the bundled certificate through the embedded pipeline (one warm LibreOffice) N times per
variant and prints the median of the render (fill + drawing + finishing of the .docx) and convert
(LibreOffice + PDF post-processing) stages, and each variant's total as a ratio of the plain one:

* plain: the certificate with its four pictures left empty;
* pictures: the sample's QR code, barcode, chart and seal;
* + watermark; + PDF/A-2b; + AES-256 password; + signature (a certificate made for the run).

Usage: ``.venv/bin/python bench/finishing.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from finish_kit import make_p12  # noqa: E402

from core.settings import Settings  # noqa: E402
from worker.pipeline import Pipeline  # noqa: E402

FOLDER = ROOT / "templates" / "certificate"
PICTURES = ("scores", "verify_qr", "cert_barcode", "seal")


def variants(sample: dict) -> dict[str, tuple[dict, dict]]:
    plain = sample | dict.fromkeys(PICTURES, "")
    mark = {"watermark": {"text": "样本 SAMPLE"}}
    return {
        "plain": (plain, {}),
        "pictures": (sample, {}),
        "pictures + watermark": (sample, mark),
        "pictures + watermark + PDF/A-2b": (sample, mark | {"pdf": {"pdfa": "2b"}}),
        "pictures + watermark + password": (sample, mark | {"pdf": {"user_password": "pw", "owner_password": "o"}}),
        "pictures + watermark + signature": (sample, mark | {"pdf": {"sign": {"reason": "bench"}}}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    template = (FOLDER / "template.docx").read_bytes()
    sample = json.loads((FOLDER / "sample.json").read_text(encoding="utf-8"))
    path, password, _ = make_p12(Path(tempfile.mkdtemp()))
    settings = Settings(env="test", sign_p12=path, sign_p12_password=password)
    results: dict[str, tuple[float, float]] = {}
    with Pipeline(settings) as pipeline:
        pipeline.render(template, sample, ["pdf"])  # warm LibreOffice, fonts and matplotlib
        for name, (data, options) in variants(sample).items():
            stages = [pipeline.produce(template, data, ["pdf"], options).timings_ms for _ in range(runs)]
            results[name] = (statistics.median(s["render"] for s in stages),
                             statistics.median(s["convert"] for s in stages))
    base = sum(results["plain"])
    print(f"{'variant':36} {'render ms':>10} {'convert ms':>11} {'total':>7} {'× plain':>8}  (median of {runs})")
    for name, (render, convert) in results.items():
        print(f"{name:36} {render:10.0f} {convert:11.0f} {render + convert:7.0f} {(render + convert) / base:8.2f}")


if __name__ == "__main__":
    main()
