"""The voice service as a FastAPI app: the shared `Service` on `app.state`, CORS for the origins
given, refusals as one-line JSON errors, and the routers of kurdish_tts/serving/routes."""

from __future__ import annotations

import argparse

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.routes import feedback, models, page, speech, votes
from kurdish_tts.serving.shelf import Shelf
from kurdish_tts.serving.state import Service


def create_app(args: argparse.Namespace, shelf: Shelf | None = None) -> FastAPI:
    """The service serve.py's `args` describe (see serve.build_parser); `shelf` serves instead of
    one for `args.model` (the tests pass one that loads slow voices)."""
    app = FastAPI(title="Kurmanji voice service", version="1")
    app.state.service = Service.start(args, shelf)
    if args.cors_origin:
        app.add_middleware(CORSMiddleware, allow_origins=args.cors_origin, allow_methods=["*"], allow_headers=["*"])
    app.add_exception_handler(ServiceError, refused)
    for routes in (page, models, speech, feedback, votes):
        app.include_router(routes.router)
    return app


async def refused(request: Request, error: ServiceError) -> JSONResponse:
    return JSONResponse({"error": {"message": str(error), "code": error.status}}, error.status, error.headers)
