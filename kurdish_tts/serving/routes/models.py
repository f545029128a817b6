"""GET /v1/models (OpenAI's model list, with each model's kind and voices: never a server path) and GET /healthz."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kurdish_tts.serving.state import ServiceState
from kurdish_tts.vits.voices import folder_voices

router = APIRouter()


@router.get("/healthz")
async def healthz(service: ServiceState):
    return {"status": "ok", "models": sorted(service.shelf.listing())}


@router.get("/v1/models")
async def models(request: Request, service: ServiceState):
    service.reader(request)
    listing = service.shelf.listing()
    return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "kurmanji-tts", "kind": kind,
                                        "voices": folder_voices(folder)}
                                       for name, (folder, kind) in sorted(listing.items())]}
