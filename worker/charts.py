"""``$chart`` drawn by matplotlib (Agg) as a 300 dpi PNG at its size in millimetres, labels in Noto Sans CJK SC.

Why a PNG: matplotlib writes no EMF, and SVG inside a .docx is not embedded reliably by Word or
LibreOffice; a 300 dpi picture prints as sharp as the text around it. The figure is made at the
exact size the document shows it, so fonts keep their point sizes. Labels are drawn with the CJK
font fonts-noto-cjk installs (found through fontconfig, as LibreOffice finds it), so 申请 never
becomes empty boxes; the title is also the picture's alternative text (``wp:docPr descr``).
"""

from __future__ import annotations

import io
import subprocess
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")  # no display, no GUI toolkit: before pyplot is imported anywhere

from docx.shared import Mm  # noqa: E402
from docxtpl import DocxTemplate  # noqa: E402
from lxml import etree  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from core.typed_chart import CheckedChart  # noqa: E402

from .drawing import DrawingImage  # noqa: E402

DPI = 300
CJK_FAMILY = "Noto Sans CJK SC"
FONT_PT = 9
MM_PER_INCH = 25.4


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """The CJK family, registered with matplotlib from the file fontconfig finds for it.

    The file is a collection (.ttc: JP, KR, SC, TC, HK faces); matplotlib registers every face,
    so the family name selects the Simplified Chinese glyph forms.
    """
    path = subprocess.run(["fc-match", "-f", "%{file}", CJK_FAMILY], capture_output=True, text=True,
                          check=True).stdout.strip()
    font_manager.fontManager.addfont(path)
    return CJK_FAMILY


def chart_png(chart: CheckedChart) -> bytes:
    """The chart as a PNG of exactly width_mm × height_mm at DPI."""
    figure = Figure(figsize=(chart.width_mm / MM_PER_INCH, chart.height_mm / MM_PER_INCH), dpi=DPI,
                    layout="constrained")
    with matplotlib.rc_context({"font.family": cjk_font(), "font.size": FONT_PT, "axes.unicode_minus": False}):
        axes = figure.add_subplot()
        DRAW[chart.type](axes, chart)
        if chart.title:
            axes.set_title(chart.title)
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def _bar(axes, chart: CheckedChart) -> None:
    count = len(chart.series)
    width = 0.8 / count
    for i, series in enumerate(chart.series):
        positions = [c + (i - (count - 1) / 2) * width for c in range(len(chart.categories))]
        axes.bar(positions, [v if v is not None else 0 for v in series.values], width, label=series.name or None)
    _axes(axes, chart)


def _line(axes, chart: CheckedChart) -> None:
    for series in chart.series:
        values = [v if v is not None else float("nan") for v in series.values]  # a gap where there is none
        axes.plot(range(len(chart.categories)), values, marker="o", label=series.name or None)
    _axes(axes, chart)


def _axes(axes, chart: CheckedChart) -> None:
    axes.set_xticks(range(len(chart.categories)), chart.categories)
    if chart.unit:
        axes.set_ylabel(chart.unit)
    axes.grid(axis="y", alpha=0.3)
    if any(s.name for s in chart.series):  # under the plot, so it never hides a bar or a point
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=min(len(chart.series), 4), frameon=False)


def _pie(axes, chart: CheckedChart) -> None:
    axes.pie(chart.series[0].values, labels=chart.categories, autopct="%1.1f%%", startangle=90, counterclock=False)
    axes.set_aspect("equal")


DRAW = {"bar": _bar, "line": _line, "pie": _pie}


class ChartImage(DrawingImage):
    """The chart's PNG, inline at its size, with its title as the picture's alternative text."""

    def __init__(self, tpl: DocxTemplate, chart: CheckedChart) -> None:
        super().__init__(tpl, io.BytesIO(chart_png(chart)), width=Mm(chart.width_mm), height=Mm(chart.height_mm))
        self.description = chart.title

    def drawing(self, inline_xml: str) -> str:
        tree = etree.fromstring(inline_xml)
        for doc_pr in tree.iter("{*}docPr"):
            doc_pr.set("descr", self.description)  # lxml escapes it for the attribute
        return etree.tostring(tree, encoding="unicode")
