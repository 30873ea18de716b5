"""The linter's messages in Chinese: one pattern per message service/lint.py writes.

The linter words its findings in English (its tests and logs read them). A template author in
China reads this table's version instead, by default (service/messages.py); a message no
pattern matches is shown as written, never dropped or garbled.
"""

from __future__ import annotations

import re

_ANY = r"(.+?)"
_TABLE: list[tuple[str, str]] = [
    (r"'(\w+)' block is never closed before 'end(\w+)' in paragraph (\d+): add (.+)",
     r"“\1”块在第 \3 段的“end\2”之前没有结束：请加上 \4"),
    (r"'(\w+)' block is never closed: add (.+)", r"“\1”块没有结束：请加上 \2"),
    (r"'(.+?)' closes a tag that was never opened", r"“\1”前面没有对应的开始标记"),
    (r"'(.+?)' is not closed with '(.+?)'", r"“\1”没有用“\2”结束"),
    (r"a (.+?) tag cannot contain '%' or '}}': docxtpl would cut it short",
     r"\1 标记里不能出现“%”或“}}”：docxtpl 会把它截断"),
    (r"(.+?) tag outside a (table row|table cell): docxtpl would remove the nearest \2 before it instead",
     r"\1 标记不在表格\2里：docxtpl 会删掉它前面最近的表格\2"),
    (r"(.+?) replaces its whole (paragraph|table row|table cell), so the other text in it \((.+)\) would be "
     r"lost: give the tag a \2 of its own",
     r"\1 会替换它所在的整个\2，其中的其他文字（\3）会丢失：请把这个标记单独放在一个\2里"),
    (r"'(\w+)' is not available: templates cannot load other files", r"“\1”不可用：模板不能加载其他文件"),
    (r"unknown tag '(\w+)': docxtpl's \1-level tags are written (.+?) with no space after '\{%'",
     r"未知标记“\1”：docxtpl 的 \1 级标记写作 \2，“{%”后面不能有空格"),
    (r"unknown tag '(.+?)'", r"未知标记“\1”"),
    (r"empty tag", r"空标记"),
    (r"a table here has no column grid \(w:tblGrid\), which Word always writes: open and save the document in "
     r"Word or WPS", r"这里的表格缺少列网格（w:tblGrid），Word 保存的文档总会有：请用 Word 或 WPS 打开后重新保存"),
    (r"'(\w+)' needs a value", r"“\1”需要一个值"),
    (r"'(\w+)' takes no argument", r"“\1”不带参数"),
    (r"'(\w+)' outside an (.+?) block", r"“\1”不在 \2 块内"),
    (r"'end(\w+)' closes nothing: no '\1' block is open", r"“end\1”没有可结束的块：前面没有打开的“\1”块"),
    (r"block opened as (.+?) in paragraph (\d+) \((.+?)\) but continued as (.+?): docxtpl would produce broken "
     r"XML; use the same kind of tag for both",
     r"块在第 \2 段以 \1 开始（\3），却以 \4 继续：docxtpl 会生成损坏的 XML；请两处使用同一种标记"),
    (r"(expression|tag) does not parse: (.+)", r"无法解析的\1：\2"),
    (r"unknown filter '(.+?)'", r"未知过滤器“\1”"),
    (r"unknown test '(.+?)'", r"未知测试“\1”"),
    (r"document property '(\w+)' does not parse: (.+)", r"文档属性“\1”无法解析：\2"),
    (r"not a \.docx: (.+)", r"不是 .docx 文件：\1"),
    # Jinja's own parse errors, which the whole-part pass reports as Jinja words them
    (r"[Uu]nexpected end of template\.?(.*)", r"模板意外结束。\1"),
    (r"[Ee]ncountered unknown tag '(.+?)'\.?(.*)", r"遇到未知标记“\1”。\2"),
    (r"unexpected (.+)", r"无法解析：出现了意外的 \1"),
    (r"expected token (.+?), got (.+)", r"无法解析：此处应为 \1，却是 \2"),
    (r"unexpected char (.+?) at (\d+)", r"无法解析：第 \2 个字符 \1 出乎意料"),
]
_COMPILED = [(re.compile(pattern + "$", re.S), replacement) for pattern, replacement in _TABLE]
_WORDS = {"expression": "表达式", "tag": "标记", "paragraph": "段落", "table row": "行", "table cell": "单元格"}


def lint_zh(message: str) -> str:
    """``message`` in Chinese when it is one the linter writes; otherwise unchanged."""
    for pattern, replacement in _COMPILED:
        match = pattern.match(message)
        if match:
            text = match.expand(replacement)
            for english, chinese in _WORDS.items():
                text = text.replace(f"的{english}", f"的{chinese}").replace(f"个{english}", f"个{chinese}")
                text = text.replace(f"整个{english}", f"整个{chinese}").replace(f"表格{english}", f"表格{chinese}")
            return text
    return message
