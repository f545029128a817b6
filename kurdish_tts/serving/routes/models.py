"""GET /v1/models (OpenAI's model list, with each model's kind and voices: never a server path), GET /healthz
and GET /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kurdish_tts.serving.state import ServiceState
from kurdish_tts.vits.voices import folder_voices

router = APIRouter()


@router.get("/healthz")
async def healthz(service: ServiceState):
    return {"status": "ok", "models": sorted(service.shelf.listing())}


@router.get("/metrics")
async def metrics(service: ServiceState):
    """Prometheus's text format (kurdish_tts/serving/metrics.py): counts and times, no request's content."""
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(service.metrics.text(), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/models")
async def models(request: Request, service: ServiceState):
    service.reader(request)
    listing = service.shelf.listing()
    return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "kurmanji-tts", "kind": kind,
                                        "voices": folder_voices(folder)}
                                       for name, (folder, kind) in sorted(listing.items())]}
