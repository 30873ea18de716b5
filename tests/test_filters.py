"""Report filters as a template author sees them: through the sandbox, in ``{{ value | filter }}``."""

from __future__ import annotations

import datetime as dt

import pytest

from core.filters import FILTERS
from core.sandbox import make_environment


def render(source: str, **data) -> str:
    return make_environment().from_string(source).render(**data)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234567.5, "1,234,567.5"),
        (1234567, "1,234,567"),
        (-1234567, "-1,234,567"),
        (999, "999"),
        (0, "0"),
        ("1234567", "1,234,567"),
        ("1234.50", "1,234.50"),
        (None, ""),
    ],
)
def test_thousands_groups_digits_and_keeps_the_values_decimals(value, expected):
    assert render("{{ v | thousands }}", v=value) == expected


def test_thousands_leaves_a_dash_in_a_number_column_alone():
    assert render("{{ v | thousands }}", v="—") == "—"


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v | fixed }}", 3.14159, "3.14"),
        ("{{ v | fixed }}", 2.675, "2.68"),  # half-up on the written value, not binary float
        ("{{ v | fixed(0) }}", 2.5, "3"),  # not banker's rounding
        ("{{ v | fixed(2, sep=True) }}", 1234567.891, "1,234,567.89"),
        ("{{ v | fixed(3) }}", "7", "7.000"),
        ("{{ v | fixed }}", -0.001, "0.00"),
        ("{{ v | fixed }}", None, ""),
    ],
)
def test_fixed_rounds_half_up_to_the_requested_decimals(source, value, expected):
    assert render(source, v=value) == expected


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("{{ v | percent }}", 0.1234, "12.3%"),
        ("{{ v | percent(2) }}", 0.5, "50.00%"),
        ("{{ v | percent(0) }}", "0.125", "13%"),
        ("{{ v | percent }}", -0.02, "-2.0%"),
        ("{{ v | percent }}", None, ""),
    ],
)
def test_percent_shows_a_ratio_as_a_percentage(source, value, expected):
    assert render(source, v=value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12345.67, "壹万贰仟叁佰肆拾伍元陆角柒分"),
        (100, "壹佰元整"),
        (1001, "壹仟零壹元整"),
        (100000000, "壹亿元整"),
        (0, "零元整"),
        (10, "壹拾元整"),
        (1409.50, "壹仟肆佰零玖元伍角"),
        (6007.14, "陆仟零柒元壹角肆分"),
        (325.04, "叁佰贰拾伍元零肆分"),
        (107000.53, "壹拾万柒仟元伍角叁分"),
        (10001, "壹万零壹元整"),
        (101000, "壹拾万壹仟元整"),
        (100010000, "壹亿零壹万元整"),
        (1000100000000, "壹万零壹亿元整"),
        (0.5, "伍角"),
        (0.05, "伍分"),
        (1.05, "壹元零伍分"),
        (2.675, "贰元陆角捌分"),
        (0.004, "零元整"),
        (-12.3, "负壹拾贰元叁角"),
        (-0.004, "零元整"),
        ("1,234.5", "壹仟贰佰叁拾肆元伍角"),
        (None, ""),
    ],
)
def test_rmb_upper_follows_the_financial_writing_rules(value, expected):
    assert render("{{ v | rmb_upper }}", v=value) == expected


def test_chinese_filter_name_is_an_alias_of_rmb_upper():
    assert render("{{ v | 金额大写 }}", v=12345.67) == "壹万贰仟叁佰肆拾伍元陆角柒分"
    assert FILTERS["金额大写"] is FILTERS["rmb_upper"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-12-31", "二〇二〇年十二月三十一日"),
        (dt.date(2021, 1, 10), "二〇二一年一月十日"),
        (dt.datetime(2019, 10, 20, 8, 30), "二〇一九年十月二十日"),
        ("2020/05/01", "二〇二〇年五月一日"),
        ("2020-12-31T23:59:00", "二〇二〇年十二月三十一日"),
        (None, ""),
        ("不详", "不详"),
    ],
)
def test_cn_date_writes_the_date_in_chinese_numerals(value, expected):
    assert render("{{ v | cn_date }}", v=value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-12-31", "2020年12月31日"),
        (dt.date(2020, 1, 5), "2020年1月5日"),
        (dt.datetime(2020, 1, 5, 12), "2020年1月5日"),
        (None, ""),
    ],
)
def test_cn_date_num_writes_arabic_numerals_with_chinese_units(value, expected):
    assert render("{{ v | cn_date_num }}", v=value) == expected


def test_default_blank_turns_null_into_an_empty_cell():
    assert render("[{{ v | default_blank }}]", v=None) == "[]"


def test_default_blank_accepts_a_custom_blank():
    assert render("{{ v | default_blank('—') }}", v=None) == "—"


def test_default_blank_treats_a_missing_key_as_blank():
    assert render("{{ row.missing | default_blank('—') }}", row={}) == "—"


def test_default_blank_keeps_zero_and_text():
    assert render("{{ a | default_blank('—') }}/{{ b | default_blank }}", a=0, b="无") == "0/无"


def test_filter_output_is_still_autoescaped():
    assert render("{{ v | thousands }}", v="<b>&") == "&lt;b&gt;&amp;"
