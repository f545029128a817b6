"""POST /v1/feedback: a correction (a recording and what it says) straight into the feedback
store a training round learns from; GET /v1/feedback lists what is pending and archived;
DELETE /v1/feedback/{id} takes a pending one back. All three need a key unless --open_feedback."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from kurdish_tts.feedback.store import FeedbackRejected
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.keys import SERVICE_DIR
from kurdish_tts.serving.state import ServiceState
from kurdish_tts.text.vocabulary import load_vocabulary

UPLOAD_DIR = "uploads"  # under <data_dir>/service: an upload lives here only until the intake has stored it

router = APIRouter()


@router.post("/v1/feedback", status_code=201)
async def add_feedback(request: Request, service: ServiceState, audio: Annotated[UploadFile, File()],
                       text: Annotated[str, Form()], spoken_text: Annotated[str, Form()] = "",
                       model: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                       consent: Annotated[str, Form()] = ""):
    name = service.writer(request)
    args = service.args
    limit = int(args.max_upload_mb * 1e6)
    folder = args.data_dir / SERVICE_DIR / UPLOAD_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=Path(audio.filename or "a.wav").suffix[:8]) as upload:
        size = 0
        while block := await audio.read(1 << 20):
            size += len(block)
            if size > limit:
                raise ServiceError(413, f"the upload is over {args.max_upload_mb:g} MB (--max_upload_mb)")
            upload.write(block)
        upload.flush()
        characters = load_vocabulary(service.shelf.served[0]).characters  # what the served voice can say
        try:
            entry, outcome = await run_in_threadpool(
                service.store.add, Path(upload.name), text, characters, speaker=name, source="serve", note=note,
                spoken_text=spoken_text, model=model, consent=consent)
        except FeedbackRejected as e:
            status = 413 if e.reason == "too long" else 415 if e.reason in ("undecodable audio", "empty file") else 422
            message = str(e).replace(upload.name, audio.filename or "the upload")
            raise ServiceError(status, message) from e
    return JSONResponse({"id": entry.id, "status": outcome, "text": entry.text, "seconds": entry.seconds},
                        201 if outcome in ("added", "replaced") else 200)


@router.get("/v1/feedback")
async def list_feedback(request: Request, service: ServiceState):
    service.writer(request)
    store = service.store
    pending = [asdict(e) for e in store.pending_entries()]
    archived = [{"round": folder.name, "info": info, "entries": [asdict(e) for e in entries]}
                for folder, info, entries in store.archived_rounds()]
    return {"pending": pending, "archived": archived}


@router.delete("/v1/feedback/{clip_id}")
async def remove_feedback(clip_id: str, request: Request, service: ServiceState):
    service.writer(request)
    try:
        entry = await run_in_threadpool(service.store.remove, clip_id)
    except FeedbackRejected as e:
        raise ServiceError(404, str(e)) from e
    return {"id": entry.id, "status": "removed"}
