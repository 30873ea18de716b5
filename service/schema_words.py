"""Schema errors in words, in Chinese and English, naming the field as its schema titles it.

jsonschema's own messages (``None is not of type 'integer'``) are English and talk about JSON,
not about the report an integrator fills in. Here each error gets a ``message`` (zh-CN) and a
``message_en`` that name the field by the ``title`` (or a short ``description``) its schema gives
it — ``自然人（natural_person）应为整数，而不是文本`` — and say what is wrong and what is expected.
The pointer (``path``) is unchanged; :mod:`service.messages` picks the language per request.
"""

from __future__ import annotations

from typing import Any

from jsonschema.exceptions import ValidationError

MAX_LABEL = 40
"""Characters of a ``description`` used as a field's name; longer ones explain, they do not name."""
_TYPES = {"string": ("文本", "text"), "integer": ("整数", "an integer"), "number": ("数字", "a number"),
          "boolean": ("true 或 false", "true or false"), "array": ("列表", "a list"),
          "object": ("对象", "an object"), "null": ("空值（null）", "null")}


def labels(schema: Any) -> dict[str, str]:
    """Each property name → the title (or short description) some ``properties`` entry gives it."""
    found: dict[str, str] = {}
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, sub in (node.get("properties") or {}).items() if isinstance(node.get("properties"), dict) else ():
            if isinstance(sub, dict) and key not in found and (name := _name_of(sub)):
                found[key] = name
        stack.extend(v for v in node.values() if isinstance(v, dict | list))
    return found


def _name_of(schema: dict) -> str | None:
    title = schema.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    description = schema.get("description")
    if isinstance(description, str) and 0 < len(description.strip()) <= MAX_LABEL and "\n" not in description:
        return description.strip()
    return None


def words(error: ValidationError, key: str | None, names: dict[str, str]) -> dict[str, str]:
    """``{"message": zh, "message_en": en}`` for ``error`` (about property ``key`` when given)."""
    field = key if key is not None else _last_key(error)
    zh_name, en_name = _field(field, names)
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return _pair(f"缺少必填项 {zh_name}", f"{en_name} is required")
    if kind == "additionalProperties":
        return _pair(_zh(zh_name, "不是模板的 schema 定义的字段"),
                     f"{en_name} is not a field the template's schema defines")
    if kind == "type":
        zh_want, en_want = _type_words(value)
        zh_got, en_got = _TYPES.get(_json_type(error.instance), ("?", "?"))
        return _pair(_zh(zh_name, f"应为{zh_want}，而不是{zh_got}"), f"{en_name} must be {en_want}, not {en_got}")
    simple = _SIMPLE.get(kind)
    if simple is not None:
        zh, en = simple
        return _pair(_zh(zh_name, zh.format(v=_shown(value))), f"{en_name} " + en.format(v=_shown(value)))
    return _pair(f"{zh_name}：{error.message}", f"{en_name}: {error.message}")


_SIMPLE = {
    "enum": ("应为以下之一：{v}", "must be one of {v}"),
    "const": ("应为 {v}", "must be {v}"),
    "minimum": ("不能小于 {v}", "must be at least {v}"),
    "maximum": ("不能大于 {v}", "must be at most {v}"),
    "exclusiveMinimum": ("应大于 {v}", "must be greater than {v}"),
    "exclusiveMaximum": ("应小于 {v}", "must be less than {v}"),
    "minLength": ("至少要有 {v} 个字符", "must have at least {v} character(s)"),
    "maxLength": ("最多只能有 {v} 个字符", "must have at most {v} characters"),
    "minItems": ("至少要有 {v} 项", "must have at least {v} item(s)"),
    "maxItems": ("最多只能有 {v} 项", "must have at most {v} items"),
    "uniqueItems": ("中有重复的项", "has repeated items"),
    "pattern": ("的格式不对（应符合 {v}）", "does not have the expected form ({v})"),
    "format": ("不是有效的 {v}", "is not a valid {v}"),
    "multipleOf": ("应为 {v} 的整数倍", "must be a multiple of {v}"),
    "minProperties": ("至少要有 {v} 个字段", "must have at least {v} field(s)"),
    "maxProperties": ("最多只能有 {v} 个字段", "must have at most {v} fields"),
    "oneOf": ("不符合任何一种允许的写法", "matches none of the allowed forms"),
    "anyOf": ("不符合任何一种允许的写法", "matches none of the allowed forms"),
    "not": ("是不允许的值", "is a value that is not allowed"),
}


def _zh(name: str, text: str) -> str:
    """``自然人（natural_person）应为…`` but ``year 应为…``: no space after a closing bracket."""
    return name + ("" if name.endswith("）") else " ") + text


def _pair(zh: str, en: str) -> dict[str, str]:
    return {"message": zh, "message_en": en}


def _last_key(error: ValidationError) -> str | None:
    keys = [p for p in error.absolute_path if isinstance(p, str)]
    return keys[-1] if keys else None


def _field(key: str | None, names: dict[str, str]) -> tuple[str, str]:
    if key is None:
        return "数据", "the data"
    name = names.get(key)
    return (f"{name}（{key}）", f"'{key}' ({name})") if name else (key, f"'{key}'")


def _type_words(value: Any) -> tuple[str, str]:
    kinds = value if isinstance(value, list) else [value]
    zh = "或".join(_TYPES.get(k, (str(k), str(k)))[0] for k in kinds)
    en = " or ".join(_TYPES.get(k, (str(k), str(k)))[1] for k in kinds)
    return zh, en


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(_shown(v) for v in value[:10]) + ("…" if len(value) > 10 else "")
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def worded(error: ValidationError, entry: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``entry`` (from service.schema_errors) with its messages in words; its pointer kept."""
    key = None
    if error.validator in ("required", "additionalProperties"):
        key = entry["path"].rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~")
    return {**entry, **words(error, key, names)}
