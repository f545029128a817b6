"""A multipart form read by the route itself, after its key is checked: held in memory (the
Guard middleware bounds its size), every text field strict UTF-8 and bounded, at most one file.
Reading it here rather than through FastAPI's form parameters means a request without a key is
refused before a byte of its body is read, and text that is not UTF-8 is refused rather than
silently read as Latin-1."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import FormParser, parse_options_header
from starlette.requests import ClientDisconnect

from kurdish_tts.serving.errors import ServiceError

MAX_PARTS = 8  # a correction has one file and at most five text fields


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # field name -> (file name, content)


async def read_form(request: Request, field_chars: dict[str, int], file_fields: tuple[str, ...]) -> Form:
    """The request's multipart form: the text fields of `field_chars` (each at most that many
    characters) and the files of `file_fields`; the first part of another name, a second of the
    same name, text that is not UTF-8 or over its length, more than MAX_PARTS parts, or a body that
    is not a multipart form stops the reading at once: ServiceError 400/413/415/422."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise ServiceError(415, "send the recording as multipart/form-data (a form with an 'audio' file)")
    form, parts = Form(), [0]

    def counted() -> None:
        parts[0] += 1
        if parts[0] > MAX_PARTS:
            raise ServiceError(422, f"the form has more than {MAX_PARTS} parts")

    def on_field(part) -> None:
        counted()
        name = part.field_name.decode("utf-8", "replace")
        if name not in field_chars or name in form.fields:
            raise ServiceError(422, f"form field {name[:40]!r}: expected once each of {', '.join(field_chars)}")
        try:
            value = (part.value or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(422, f"form field {name!r} is not UTF-8 text") from None
        if len(value) > field_chars[name]:
            raise ServiceError(413, f"form field {name!r} is {len(value)} characters; at most {field_chars[name]}")
        form.fields[name] = value

    def on_file(part) -> None:
        counted()
        name = (part.field_name or b"").decode("utf-8", "replace")
        if name not in file_fields or name in form.files:
            raise ServiceError(422, f"form file {name[:40]!r}: expected one file in {', '.join(file_fields)}")
        part.file_object.seek(0)
        file_name = (part.file_name or b"").decode("utf-8", "replace")
        form.files[name] = (file_name, part.file_object.read())

    try:
        parser = FormParser("multipart/form-data", on_field, on_file, boundary=options[b"boundary"],
                            config={"MAX_MEMORY_FILE_SIZE": float("inf")})  # in memory: nothing on disk to leave behind
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise ServiceError(400, "the multipart form cannot be read: check its boundary and part headers") from None
    except ClientDisconnect:
        raise ServiceError(400, "the client went away before the form was sent") from None
    return form
