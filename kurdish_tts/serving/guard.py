"""What every request passes before a route sees it: a body bounded in size (by its Content-Length
before a byte of it is read, and byte by byte as it comes, for chunked bodies) and in time (a pause
longer than the body timeout, or a body slower than BODY_DEADLINE_S in all, is answered 408), and
the headers every answer carries."""

from __future__ import annotations

import asyncio
import json
import time

from starlette.exceptions import HTTPException

from kurdish_tts.serving.errors import error_content

UPLOAD_PATH = "/v1/feedback"  # the one route whose body is a recording; every other body is JSON
BODY_DEADLINE_S = 120.0  # the longest a whole body may take to arrive, however steadily it comes
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]


def json_limit(max_text_chars: int) -> int:
    """Bytes a JSON body may have: 16 KiB, plus 6 a character of text (the longest a character is
    once JSON escapes it, `\\uXXXX`)."""
    return 16_384 + 6 * max_text_chars


class BodyRefused(HTTPException):
    """A body too large or too slow: raised where the route reads it, answered as the service's errors are."""


class Guard:
    """An ASGI middleware: refuses a body over `upload_bytes` (the upload route) or `json_bytes`
    (any other) before reading it when it says its length, and as soon as it passes the limit when
    it does not; a body that pauses longer than `idle_s` or takes longer than BODY_DEADLINE_S is
    refused with 408. Every answer gets SECURITY_HEADERS."""

    def __init__(self, app, upload_bytes: int, json_bytes: int, idle_s: float):
        self.app, self.upload_bytes, self.json_bytes, self.idle_s = app, upload_bytes, json_bytes, idle_s

    def limit(self, path: str) -> tuple[int, str]:
        if path == UPLOAD_PATH:
            return self.upload_bytes, f"the upload is over {self.upload_bytes / 1e6:g} MB (--max_upload_mb)"
        return self.json_bytes, f"the request body is over {self.json_bytes} bytes"

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, too_large = self.limit(scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            return await answer(send, status, too_large if status == 413 else "Content-Length is not a number")

        started, deadline = False, time.monotonic() + BODY_DEADLINE_S
        received = 0
        complete = not (declared not in (None, b"0") or b"transfer-encoding" in headers)  # no body to come

        async def bounded_receive():
            nonlocal received, complete
            if complete:  # the body is in: what comes now is a disconnect, which may take any time
                return await receive()
            wait = min(self.idle_s, deadline - time.monotonic())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.0))
            except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11; a class of its own on 3.10
                raise BodyRefused(408, f"the request body stopped arriving (more than {self.idle_s:g} s without "
                                       f"data, or over {BODY_DEADLINE_S:g} s in all): send it again") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > limit:
                    raise BodyRefused(413, too_large)
            else:
                complete = True
            return message

        async def marked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # answered before the whole body came (a refusal): close, so the rest is not read
                closing = [] if complete else [(b"connection", b"close")]
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS, *closing]}
            await send(message)

        try:
            await self.app(scope, bounded_receive, marked_send)
        except BodyRefused as refusal:  # refused outside a route (a route's are answered by the app)
            if started:
                raise
            await answer(send, refusal.status_code, refusal.detail)


async def answer(send, status: int, message: str) -> None:
    body = json.dumps(error_content(status, message)).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})
