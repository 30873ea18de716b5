"""The ``wenshu`` command: serve the API, run workers, render, lint, skeleton or preview from the shell.

Subcommands import what they need lazily, so ``wenshu worker`` never loads Flask.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import report_import


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser (also used by tests that check deployment files)."""
    parser = argparse.ArgumentParser(prog="wenshu", description="文书 — JSON + Word template → DOCX/PDF")
    parser.add_argument("--version", action="version", version=f"wenshu {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (waitress)")
    serve.add_argument("--host", help="interface (default WENSHU_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default WENSHU_PORT or 8080)")
    serve.add_argument("--threads", type=int, help="request threads (default WENSHU_API_THREADS or 32)")

    worker = sub.add_parser("worker", help="run render workers, each with its own LibreOffice")
    worker.add_argument("--processes", type=int, help="worker processes (default WENSHU_WORKERS or 2)")

    sub.add_parser("seed", help="store the bundled templates in Redis (idempotent; never replaces an upload)")

    render = sub.add_parser("render", help="render in-process: no Redis, a LibreOffice of its own")
    render.add_argument("template", help="bundled template name or path to a .docx")
    render.add_argument("data", help="JSON data file ('-' for stdin)")
    render.add_argument("-o", "--output", required=True, help="output file; format from its extension")
    render.add_argument("--format", choices=["pdf", "docx", "odt"], help="override the output format")
    render.add_argument("--unoserver", metavar="HOST:PORT", help="use a running (uno)server instead")
    render.add_argument("--validation", choices=["strict", "warn", "off"], default="strict",
                        help="check data against the template's schema and rules (bundled templates)")

    lint = sub.add_parser("lint", help="check a .docx template's tags and safety")
    lint.add_argument("file", help="the .docx")
    lint.add_argument("--format", choices=["json", "text"], default="json",
                      help="json for machines (default), text for people: one line per problem")

    skeleton = sub.add_parser("skeleton", help="print the JSON Schema and a sample data skeleton of a .docx")
    skeleton.add_argument("file", help="the .docx")

    report_import.add_parser(sub)

    preview = sub.add_parser("preview", help="re-render a PDF each time the template or the data is saved")
    preview.add_argument("template", help="path to the .docx")
    preview.add_argument("data", help="JSON data file")
    preview.add_argument("-o", "--output", help="the PDF (default: the template's name with .pdf)")
    preview.add_argument("--once", action="store_true", help="render once and exit (1 on error)")
    preview.add_argument("--undefined", choices=["strict", "warn", "blank"], default="warn",
                         help="what a variable the data lacks does (default: warn)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.errors import ConfigError, WenshuError
    from core.logs import configure_logging
    from core.settings import Settings

    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        return {"serve": _serve, "worker": _worker, "seed": _seed, "render": _render,
                "lint": _lint, "skeleton": _skeleton, "preview": _preview,
                "import": report_import.run}[args.command](args, settings)
    except ConfigError as exc:
        # Before anything runs: one line an operator can act on, not a problem document.
        print(f"wenshu: invalid settings: {exc.detail}", file=sys.stderr)
        return 2
    except WenshuError as exc:
        print(json.dumps(exc.to_problem(), ensure_ascii=False, indent=2), file=sys.stderr)
        return 2


def _serve(args, settings) -> int:
    from service.server import serve

    return serve(settings.with_(host=args.host or settings.host, port=args.port or settings.port,
                                api_threads=args.threads or settings.api_threads))


def _worker(args, settings) -> int:
    from worker.runner import run_pool

    return run_pool(settings, args.processes or settings.workers)


def _seed(args, settings) -> int:
    """Seed the bundled templates and print, per template, its version and whether it is latest."""
    from redis.exceptions import RedisError

    from service.state import ServiceState

    try:
        report = ServiceState.build(settings).registry.seed_bundled()
    except RedisError as exc:
        print(f"wenshu seed: Redis at {settings.redis_url} is unreachable: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0


def _render(args, settings) -> int:
    from service.contracts import check_schema
    from service.template_checks import check_template
    from service.validation import validate_data
    from worker.libreoffice import RemoteConverter
    from worker.pipeline import Pipeline

    data = json.loads(sys.stdin.read() if args.data == "-" else Path(args.data).read_text(encoding="utf-8"))
    folder = settings.templates_dir / args.template
    if (folder / "template.docx").exists():
        template = (folder / "template.docx").read_bytes()
        if args.validation != "off":
            load = lambda n: json.loads((folder / n).read_text(encoding="utf-8")) if (folder / n).exists() else None  # noqa: E731
            if load("schema.json") is not None:
                check_schema(load("schema.json"))
            for v in validate_data(data, load("schema.json"), load("rules.json") or [], mode=args.validation):
                print(f"warning: {v.get('message')} ({v.get('path')})", file=sys.stderr)
    else:
        template = Path(args.template).read_bytes()
    check_template(template)
    fmt = args.format or Path(args.output).suffix.lstrip(".").lower() or "pdf"
    supervisor = RemoteConverter(args.unoserver, settings.convert_timeout) if args.unoserver else None
    from .quiet import filtered_stderr

    with filtered_stderr(), Pipeline(settings, supervisor) as pipeline:
        output = pipeline.produce(template, data, [fmt])
    Path(args.output).write_bytes(output.files[fmt])
    print(json.dumps({"output": args.output, "format": fmt, "size": len(output.files[fmt]),
                      "timings_ms": output.timings_ms}, ensure_ascii=False))
    for warning in output.warnings:  # variables the data lacks (options.undefined warn), located
        print(f"warning: {warning['message_en']}", file=sys.stderr)
    return 0


def _lint(args, settings) -> int:
    from service.template_checks import lint_report

    data = Path(args.file).read_bytes()
    report = lint_report(data)
    print(_lint_text(args.file, report) if args.format == "text" else json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["ok"] else 1


def _lint_text(name: str, report: dict) -> str:
    """``file: part ¶N: tag — message`` per problem, then the variables the template uses."""
    lines = [f"{name}: {p.get('part', '?')} ¶{p.get('paragraph', '?')}: {p.get('tag', '')} — {p['message']}"
             for p in report.get("problems", [])]
    lines.append(f"{name}: {'ok' if report['ok'] else f'{len(lines)} problem(s)'}; variables: "
                 + (", ".join(report.get("variable_paths") or report.get("variables") or []) or "none"))
    return "\n".join(lines)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("wenshu")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _skeleton(args, settings) -> int:
    """The template's variables as {schema, sample}; lint problems go to stderr (what parses still counts)."""
    from service.template_checks import lint_report

    report = lint_report(Path(args.file).read_bytes())
    for problem in report["problems"]:
        print(f"warning: {problem['part']} paragraph {problem['paragraph']}: {problem['message']}", file=sys.stderr)
    print(json.dumps(report["skeleton"], ensure_ascii=False, indent=2))
    return 0


def _preview(args, settings) -> int:
    from .preview import run

    template = Path(args.template)
    output = Path(args.output) if args.output else template.with_suffix(".pdf")
    return run(template, Path(args.data), output, settings, once=args.once, undefined=args.undefined)


if __name__ == "__main__":
    sys.exit(main())
