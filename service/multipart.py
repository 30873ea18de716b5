"""File parts of multipart requests, with or without a filename.

Werkzeug files a part under ``request.files`` only when its Content-Disposition has a filename;
a part without one (what ``curl -F "file=<t.docx"`` and some generated clients send) becomes a
text field, decoded as UTF-8 with replacement characters: a .docx would arrive corrupted. For the
parts that carry files (``FILE_PARTS``), the request class here decodes such a field as
ISO-8859-1 instead, which maps every byte to one character, so :func:`part_bytes` gets the exact
bytes back. Every other field is decoded as before.
"""

from __future__ import annotations

from flask import Request, request
from werkzeug.datastructures import Headers
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header

FILE_PARTS = frozenset({"file", "template"})
"""Names of the multipart parts that carry a .docx (PUT/lint ``file``, ad-hoc render ``template``)."""
_BYTES_AS_TEXT = "iso-8859-1"


class _FileFieldParser(MultiPartParser):
    def get_part_charset(self, headers: Headers) -> str:
        name = parse_options_header(headers.get("content-disposition", ""))[1].get("name")
        return _BYTES_AS_TEXT if name in FILE_PARTS else super().get_part_charset(headers)


class _FormDataParser(FormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):  # noqa: ANN001 - Werkzeug's signature
        parser = _FileFieldParser(stream_factory=self.stream_factory, max_form_memory_size=self.max_form_memory_size,
                                  max_form_parts=self.max_form_parts, cls=self.cls)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class WenshuRequest(Request):
    """Flask's request, keeping file parts that came without a filename byte for byte."""

    form_data_parser_class = _FormDataParser


def part_bytes(name: str) -> bytes | None:
    """The bytes of the multipart part ``name``, whether it was sent with a filename or not."""
    if name in request.files:
        return request.files[name].read()
    if name in request.form:
        value = request.form[name]
        return value.encode(_BYTES_AS_TEXT) if name in FILE_PARTS else value.encode("utf-8")
    return None


def received_parts() -> str:
    """The part names the request carried, for an error that says what was missing."""
    names = sorted({str(n) for n in (*request.files, *request.form) if n})  # a part may have no name at all
    return ", ".join(repr(n) for n in names) if names else "none"
