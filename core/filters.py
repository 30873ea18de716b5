"""Report filters for template authors, registered in the sandbox by :func:`core.sandbox.make_environment`.

Template authors write ``{{ amount | thousands }}`` or ``{{ total | 金额大写 }}`` in Word; the data
comes from JSON, so every filter accepts what JSON gives it: ``None`` (a blank cell → ``""``),
ints, floats and numeric strings (``"1234.5"``, ``"1,234.5"``). A value a filter cannot read as a
number is returned unchanged rather than failing the whole render: a dash such as ``"—"`` in a money
column is a normal thing to find in a report.

Numbers go through :class:`decimal.Decimal` built from ``repr(float)`` so that a value prints as it
was written in the JSON (2.675 rounds to 2.68, as an accountant expects, not 2.67 as binary floats
would), and rounding is ROUND_HALF_UP (财务四舍五入), not Python's banker's rounding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jinja2 import Undefined

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_GROUP_UNITS = ("", "拾", "佰", "仟")  # within a 4-digit group, least significant first
_CN_DATE_DIGITS = "〇一二三四五六七八九"
_CN_SMALL = "零一二三四五六七八九"


def _blank(value: Any) -> bool:
    # Jinja's Undefined (a key the data lacks) is as blank as JSON null.
    return value is None or isinstance(value, Undefined)


def _to_decimal(value: Any) -> Decimal | None:
    """The number in ``value``, or None when it is not one (bools, words, NaN/Infinity)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        # repr() is the shortest string that round-trips: 0.1 stays 0.1, not 0.1000000000000000055...
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    return number if number.is_finite() else None


def _round(number: Decimal, places: int) -> Decimal:
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    # -0.001 rounded to 2 places is "-0.00": a report shows 0.00.
    return rounded.copy_abs() if rounded.is_zero() else rounded


def thousands(value: Any) -> Any:
    """Group digits by thousands, keeping the value's own decimals: 1234567.5 → "1,234,567.5".

    Integers stay integers (1234567 → "1,234,567"); a numeric string keeps the decimals it was
    written with ("1234.50" → "1,234.50"). Use :func:`fixed` for a fixed number of decimals.
    """
    if _blank(value):
        return ""
    number = _to_decimal(value)
    if number is None:
        return value
    return format(number, ",f")


def fixed(value: Any, n: int = 2, sep: bool = False) -> Any:
    """Round half-up to ``n`` decimals: ``fixed(3.14159)`` → "3.14".

    ``fixed(2, sep=True)`` also groups thousands: 1234567.891 → "1,234,567.89".
    """
    if _blank(value):
        return ""
    number = _to_decimal(value)
    if number is None:
        return value
    return format(_round(number, int(n)), ",f" if sep else "f")


def percent(value: Any, n: int = 1) -> Any:
    """A ratio as a percentage with ``n`` decimals: 0.1234 → "12.3%"."""
    if _blank(value):
        return ""
    number = _to_decimal(value)
    if number is None:
        return value
    return format(_round(number * 100, int(n)), "f") + "%"


def _group_upper(n: int) -> str:
    """0 < n < 10000 in financial capitals; inner zeros collapse to one 零, trailing zeros vanish."""
    out: list[str] = []
    pending_zero = False
    for position in range(3, -1, -1):
        digit = n // 10**position % 10
        if digit == 0:
            pending_zero = bool(out)  # only a zero *between* digits is spoken
            continue
        if pending_zero:
            out.append("零")
            pending_zero = False
        out.append(_DIGITS[digit] + _GROUP_UNITS[position])
    return "".join(out)


def _integer_upper(n: int) -> str:
    """n > 0 in financial capitals, 万 and 亿 nested so that 10^12 reads 壹万亿."""
    for size, unit in ((10**8, "亿"), (10**4, "万")):
        if n >= size:
            high, low = divmod(n, size)
            # 零 marks a gap: 1,0000,0001 → 壹亿零壹; 10,1000 → 壹拾万壹仟 needs none.
            gap = "零" if 0 < low < size // 10 else ""
            return _integer_upper(high) + unit + gap + (_integer_upper(low) if low else "")
    return _group_upper(n)


def rmb_upper(value: Any) -> Any:
    """Chinese uppercase money (金额大写), rounded half-up to 分: 12345.67 → "壹万贰仟叁佰肆拾伍元陆角柒分".

    Follows the 《支付结算办法》 writing rules: 整 after 元 when there are no 角/分 (100 →
    "壹佰元整"), none after 角 or 分 (1409.50 → "壹仟肆佰零玖元伍角"); one 零 for each run of
    zeros inside the number (1001 → "壹仟零壹元整"); 零 before 分 when 角 is zero (325.04 →
    "叁佰贰拾伍元零肆分"); 壹 kept before 拾 (10 → "壹拾元整"); amounts under one yuan start at
    角/分 (0.5 → "伍角"); 0 → "零元整"; negative amounts are prefixed 负.
    """
    if _blank(value):
        return ""
    number = _to_decimal(value)
    if number is None:
        return value
    fen_total = int(_round(number, 2).scaleb(2))
    sign = "负" if fen_total < 0 else ""
    yuan, fen_part = divmod(abs(fen_total), 100)
    jiao, fen = divmod(fen_part, 10)
    if yuan == 0 and fen_part == 0:
        return "零元整"
    text = _integer_upper(yuan) + "元" if yuan else ""
    if fen_part == 0:
        return sign + text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif yuan:
        text += "零"  # 壹元零伍分: the zero 角 is spoken between 元 and 分
    if fen:
        text += _DIGITS[fen] + "分"
    return sign + text


def _to_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip().replace("/", "-")
        for parse in (dt.date.fromisoformat, dt.datetime.fromisoformat):
            try:
                parsed = parse(text)
            except ValueError:
                continue
            return parsed.date() if isinstance(parsed, dt.datetime) else parsed
    return None


def _small_number(n: int) -> str:
    """1..31 as written in dates: 十, 十二, 二十, 三十一."""
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _CN_SMALL[ones]
    return ("" if tens == 1 else _CN_SMALL[tens]) + "十" + (_CN_SMALL[ones] if ones else "")


def cn_date(value: Any) -> Any:
    """A date in Chinese numerals: date, datetime or "2020-12-31" → "二〇二〇年十二月三十一日"."""
    if _blank(value):
        return ""
    day = _to_date(value)
    if day is None:
        return value
    year = "".join(_CN_DATE_DIGITS[int(c)] for c in f"{day.year:04d}")
    return f"{year}年{_small_number(day.month)}月{_small_number(day.day)}日"


def cn_date_num(value: Any) -> Any:
    """A date with Arabic numerals and Chinese units: "2020-01-05" → "2020年1月5日"."""
    if _blank(value):
        return ""
    day = _to_date(value)
    if day is None:
        return value
    return f"{day.year}年{day.month}月{day.day}日"


def default_blank(value: Any, blank: str = "") -> Any:
    """``blank`` (default "") for a null or missing value, anything else unchanged (0 stays 0)."""
    return blank if _blank(value) else value


FILTERS: dict[str, Callable[..., Any]] = {
    "thousands": thousands,
    "fixed": fixed,
    "percent": percent,
    "rmb_upper": rmb_upper,
    "金额大写": rmb_upper,
    "cn_date": cn_date,
    "cn_date_num": cn_date_num,
    "default_blank": default_blank,
}
"""Filter name → function, as template authors write them after ``|``."""
