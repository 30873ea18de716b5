"""``wenshu import <template> <file>``: a published report → the template's data, on stdout.

The same reading as ``POST /v1/templates/{name}/import`` (a child process under the import limits),
without Redis: the bundled template's schema and rules come from ``templates/``. Prints
``{"data", "unread", "problems"}``; exit status 0 when everything was read and the data is valid,
1 when something was left unread or has problems (the draft is printed either way).
"""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(sub) -> None:
    parser = sub.add_parser("import", help="read last year's published report (PDF or .docx) into a template's data")
    parser.add_argument("template", help="gov-info-annual-report-2019 or gov-info-annual-report-2021")
    parser.add_argument("file", help="the published report: a PDF from any tool, or a .docx")
    parser.add_argument("-o", "--output", help="write the JSON here instead of stdout")


def run(args, settings) -> int:
    from core.errors import InvalidData, NotFound, RuleViolation
    from core.report_import.forms import IMPORTABLE
    from core.report_import.isolated import import_isolated
    from service.validation import validate_data

    if args.template not in IMPORTABLE:
        raise NotFound(f"template {args.template!r} has no report importer; importable: "
                       f"{', '.join(sorted(IMPORTABLE))}", errors=[{"path": "template", "message": "no importer"}])
    folder = settings.templates_dir / args.template
    schema = json.loads((folder / "schema.json").read_text("utf-8"))
    rules = json.loads((folder / "rules.json").read_text("utf-8"))
    result = import_isolated(Path(args.file).read_bytes(), IMPORTABLE[args.template], settings)
    try:
        problems = validate_data(result["data"], schema, rules, mode="warn")
    except (InvalidData, RuleViolation) as exc:
        problems = exc.errors
    text = json.dumps({**result, "problems": problems}, ensure_ascii=False, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", "utf-8")
    else:
        print(text)
    return 1 if result["unread"] or problems else 0
