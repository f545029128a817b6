"""The voice service as a FastAPI app: the shared `Service` on `app.state`, bodies bounded before
a route reads them (guard.py), CORS for the origins given, every refusal one-line JSON in one shape
({"error": {"message", "code"}}), the API's own documentation only with --docs, and the routers
of kurdish_tts/serving/routes."""

from __future__ import annotations

import argparse
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from kurdish_tts.serving.errors import ServiceError, error_content, validation_message
from kurdish_tts.serving.guard import Guard, json_limit
from kurdish_tts.serving.metrics import Recorder
from kurdish_tts.serving.routes import feedback, models, page, speech, votes
from kurdish_tts.serving.shelf import Shelf
from kurdish_tts.serving.state import Service

log = logging.getLogger(__name__)
# Characters a request may ask to be spoken: about 35 s of speech, under 3 s of the stand-in's work on 2
# cores (BENCHMARKS.md, "The voice service under abuse").
MAX_TEXT_CHARS = 600


def create_app(args: argparse.Namespace, shelf: Shelf | None = None) -> FastAPI:
    """The service serve.py's `args` describe (see serve.build_parser); `shelf` serves instead of
    one for `args.model` (the tests pass one that loads slow voices)."""
    documented = getattr(args, "docs", False)
    app = FastAPI(title="Kurmanji voice service", version="1", docs_url="/docs" if documented else None,
                  redoc_url=None, openapi_url="/openapi.json" if documented else None, lifespan=lifespan)
    app.state.service = Service.start(args, shelf)
    app.add_middleware(Guard, upload_bytes=int(args.max_upload_mb * 1e6), json_bytes=json_limit(args.max_text_chars),
                       idle_s=getattr(args, "body_timeout_s", 10.0))
    if args.cors_origin:  # added after Guard, so around it: a browser app reads Guard's refusals too
        app.add_middleware(CORSMiddleware, allow_origins=args.cors_origin, allow_methods=["*"], allow_headers=["*"])
    app.add_middleware(Recorder, metrics=app.state.service.metrics, log_json=getattr(args, "log_json", False))
    app.add_exception_handler(ServiceError, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, failed)
    for routes in (page, models, speech, feedback, votes):
        app.include_router(routes.router)
    return app


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI):
    """With --wyoming URI, the Wyoming server runs beside the HTTP API while the app runs."""
    uri = getattr(app.state.service.args, "wyoming", None)
    server = None
    if uri:
        from kurdish_tts.serving import wyoming

        server = await wyoming.start(app.state.service, uri)  # listening before the app takes requests
    try:
        yield
    finally:
        if server is not None:
            await server.stop()


def uvicorn_options(args: argparse.Namespace) -> dict:
    """How uvicorn must run the app: X-Forwarded-For believed only from --trust_proxy's addresses, at
    most --max_connections connections and requests at once (more answer 503), no access log of its own."""
    trusted = getattr(args, "trust_proxy", None)
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted or "127.0.0.1", "server_header": False,
            "limit_concurrency": getattr(args, "max_connections", None),
            "access_log": False}  # the service logs each request itself (metrics.Recorder), without its query


def _json(status: int, message: str, headers: dict | None) -> JSONResponse:
    return JSONResponse(error_content(status, message), status, headers)


async def refused(request: Request, e: ServiceError) -> JSONResponse:
    return _json(e.status, str(e), e.headers)


async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
    return _json(422, f"the request does not fit the API: {validation_message(e)}", None)


async def http_error(request: Request, e: HTTPException) -> JSONResponse:
    messages = {404: f"no such endpoint: {request.url.path[:80]} (GET / for the page; the API is under /v1)",
                405: f"{request.method} is not allowed on {request.url.path[:80]}"}
    return _json(e.status_code, messages.get(e.status_code, str(e.detail)), getattr(e, "headers", None))


async def failed(request: Request, e: Exception) -> JSONResponse:
    log.exception("request %s %s failed", request.method, request.url.path)
    return _json(500, "the service failed on this request; the server's log says why", None)
