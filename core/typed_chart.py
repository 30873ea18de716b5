"""The grammar of ``$chart``: bar, line and pie charts from JSON series, bounded and checked.

``{"$chart": {"type": "bar", "title": "…", "categories": ["2022", "2023"], "unit": "件",
"series": [{"name": "申请", "values": [12, 15]}], "width_mm": 150, "height_mm": 90}}``

Checked by the API before queueing and by the worker before it draws (worker/charts.py), so a
chart with bad data is a 422 naming the very value (``/data/chart/$chart/series/1/values/3``),
never a failed job. Every list and string is bounded: drawing is CPU the worker spends per value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.typed_common import check_text, invalid, refuse_unknown, shown
from core.typed_media import check_mm

CHART_KEYS = frozenset({"type", "title", "categories", "series", "unit", "width_mm", "height_mm"})
SERIES_KEYS = frozenset({"name", "values"})
CHART_TYPES = ("bar", "line", "pie")
MAX_CATEGORIES = 60
MAX_SERIES = 12
MAX_LABEL = 40
MAX_TITLE = 100
MAX_VALUE = 1e15
"""Beyond this a value is a mistake (and the axis labels would be unreadable anyway)."""
CHART_MM = (20, 400)


@dataclass(frozen=True)
class CheckedSeries:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class CheckedChart:
    type: str
    title: str
    categories: tuple[str, ...]
    series: tuple[CheckedSeries, ...]
    unit: str
    width_mm: float
    height_mm: float


def label(value: Any, path: tuple, what: str, limit: int = MAX_LABEL) -> str:
    """A category, series name, title or unit: a string (or number) of at most ``limit`` characters."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{value:g}"
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(path, f"{what} must be a string of at most {limit} characters, not {shown(value)}")
    check_text(value, path)
    return value


def bounded_list(value: Any, path: tuple, what: str, limit: int) -> list:
    if not isinstance(value, list) or not 1 <= len(value) <= limit:
        raise invalid(path, f"{what} must be a list of 1 to {limit} items")
    return value


def number(value: Any, path: tuple, chart: str) -> float | None:
    """A finite number (null: no value at that category); pie slices are not negative."""
    if value is None and chart != "pie":
        return None
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or abs(value) > MAX_VALUE or (chart == "pie" and value < 0)):
        allowed = "a number of at least 0" if chart == "pie" else f"a number (or null) within ±{MAX_VALUE:g}"
        raise invalid(path, f"a chart value must be {allowed}, not {shown(value)}")
    return float(value)


def check_series(raw: Any, path: tuple, chart: str, count: int) -> CheckedSeries:
    if not isinstance(raw, dict):
        raise invalid(path, "a series must be {\"name\": \"…\", \"values\": [numbers]}")
    refuse_unknown(raw, SERIES_KEYS, path, "series")
    name = label(raw.get("name", ""), path + ("name",), "a series name")
    values = raw.get("values")
    if not isinstance(values, list) or len(values) != count:
        raise invalid(path + ("values",), f"values must be a list of {count} numbers, one per category")
    return CheckedSeries(name, tuple(number(v, path + ("values", i), chart) for i, v in enumerate(values)))


def check_chart(spec: Any, path: tuple) -> CheckedChart:
    """The chart's type, labels and series, each checked where it sits."""
    if not isinstance(spec, dict):
        raise invalid(path, "$chart needs {\"type\": \"bar\", \"categories\": […], "
                            "\"series\": [{\"name\": …, \"values\": […]}]}")
    refuse_unknown(spec, CHART_KEYS, path, "$chart")
    kind = spec.get("type", "bar")
    if kind not in CHART_TYPES:
        raise invalid(path + ("type",), f"type must be one of {', '.join(CHART_TYPES)}, not {shown(kind)}")
    raw_categories = bounded_list(spec.get("categories"), path + ("categories",), "categories", MAX_CATEGORIES)
    categories = tuple(label(c, path + ("categories", i), "a category") for i, c in enumerate(raw_categories))
    raw_series = bounded_list(spec.get("series"), path + ("series",), "series", 1 if kind == "pie" else MAX_SERIES)
    series = tuple(check_series(s, path + ("series", i), kind, len(categories)) for i, s in enumerate(raw_series))
    if kind == "pie" and not sum(series[0].values):
        raise invalid(path + ("series", 0, "values"), "a pie chart needs at least one value above 0")
    return CheckedChart(kind, label(spec.get("title", ""), path + ("title",), "title", MAX_TITLE), categories,
                        series, label(spec.get("unit", ""), path + ("unit",), "unit"),
                        check_mm(spec, "width_mm", path, 150, *CHART_MM),
                        check_mm(spec, "height_mm", path, 90, *CHART_MM))
