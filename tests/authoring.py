"""Templates the way a template author's Word saves them, shared by the issue-#10 tests."""

from __future__ import annotations

from test_lint import template as word_template  # the lint tests' Word-like builder

__all__ = ["OFFER_DATA", "offer_letter", "word_template"]


def offer_letter() -> bytes:
    """The issue's offer letter with both typos: ``candidate.nmae`` and a loop over ``salary_item``.

    Paragraphs of word/document.xml: 1 title, 2 ``{{ candidate.nmae }}`` (split across runs),
    3-5 the table rows (loop over ``salary_item``), 6 the closing line.
    """
    return word_template(
        "录用通知书 Offer",
        ["尊敬的 {{ cand", "idate.nmae }}："],
        table=[["{%tr for i in salary_item %}", ""], ["{{ i.item }}", "{{ i.amount }}"], ["{%tr endfor %}", ""]],
        after_table=("入职日期：{{ start_date }}",))


OFFER_DATA = {"candidate": {"name": "张三"}, "start_date": "2026-01-05",
              "salary_items": [{"item": "基本工资", "amount": "12000"}]}
