"""POST /v1/feedback: a correction (a recording and what it says) straight into the feedback
store a training round learns from (a key, or none with --open_feedback); GET /v1/feedback lists
what is pending and archived, DELETE /v1/feedback/{id} takes a pending one back (a key always;
another key's entry, an admin key)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from kurdish_tts.feedback.store import FeedbackRejected
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.forms import read_form
from kurdish_tts.serving.state import ServiceState
from kurdish_tts.text.vocabulary import load_vocabulary
from kurdish_tts.vits.voices import folder_voices

# The licences a donor may give a recording under ("": none said; kept for this voice's training only).
CONSENTS = ("", "CC0-1.0", "CC-BY-4.0", "training-only")
NOTE_CHARS = 1000

router = APIRouter()

UPLOAD_FORM = {"requestBody": {"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["audio", "text"],
    "properties": {"audio": {"type": "string", "format": "binary"}, "text": {"type": "string"},
                   "spoken_text": {"type": "string"}, "model": {"type": "string"}, "note": {"type": "string"},
                   "voice": {"type": "string"},
                   "consent": {"type": "string", "enum": list(CONSENTS)}}}}}}}


@router.post("/v1/feedback", status_code=201, openapi_extra=UPLOAD_FORM)
async def add_feedback(request: Request, service: ServiceState):
    name = service.writer(request, open_to_all=True)  # before a byte of the body is read
    with service.uploads:
        return await take_in(request, service, name)


async def take_in(request: Request, service, name: str) -> JSONResponse:
    chars = service.args.max_text_chars
    form = await read_form(request, {"text": chars, "spoken_text": chars, "model": 200, "note": NOTE_CHARS,
                                     "consent": 40, "voice": 40}, ("audio",))
    if "audio" not in form.files or "text" not in form.fields:
        raise ServiceError(422, "a correction needs an 'audio' file and its 'text'")
    fields = form.fields
    if fields.get("consent", "") not in CONSENTS:
        raise ServiceError(422, f"consent {fields['consent'][:40]!r}: give one of {', '.join(filter(None, CONSENTS))} "
                                "or leave it out")
    model = fields.get("model", "")
    if model and model not in service.shelf.listing():
        raise ServiceError(422, f"model {model[:40]!r} is not served: GET /v1/models lists the ids")
    voice = fields.get("voice", "")
    if voice:  # the voice of the model the correction is for: the one it names, else the first served
        voices = folder_voices(service.shelf.listing()[model][0] if model else service.shelf.served[0])
        if voice not in voices:
            have = f"its voices are {', '.join(voices)}" if voices else "it has one voice: leave 'voice' out"
            raise ServiceError(422, f"voice {voice[:40]!r} is not a voice of the served model: {have}")
    file_name, recording = form.files["audio"]
    label = file_name.replace("\0", "")[:80] or "the upload"
    characters = load_vocabulary(service.shelf.served[0]).characters  # what the served voice can say
    try:
        entry, outcome = await run_in_threadpool(
            service.store.add, recording, fields["text"], characters, donor=name, source="serve",
            note=fields.get("note", ""), spoken_text=fields.get("spoken_text", ""), model=model,
            consent=fields.get("consent", ""), key_name="" if name.startswith("open:") else name, label=label,
            voice=voice)
    except FeedbackRejected as e:
        service.metrics.corrections.labels(f"refused: {e.reason or 'other'}").inc()
        status = 413 if e.reason == "too long" else 415 if e.reason in ("undecodable audio", "empty file") else 422
        raise ServiceError(status, str(e)) from e
    service.metrics.corrections.labels(outcome.split(" ")[0]).inc()
    return JSONResponse({"id": entry.id, "status": outcome, "text": entry.text, "seconds": entry.seconds},
                        201 if outcome in ("added", "replaced") else 200)


@router.get("/v1/feedback")
async def list_feedback(request: Request, service: ServiceState):
    """Pending and archived entries; server paths in a round's record shown by their folder's name,
    and the addresses of entries sent without a key to admin keys only."""
    admin = service.is_admin(service.writer(request, reading=True))
    store = service.store

    def shown(entry) -> dict:
        row = asdict(entry)
        if not admin and row["donor"].startswith("open:"):
            row["donor"] = "open"
        return row

    def without_paths(info: dict) -> dict:
        return {k: Path(v).name if isinstance(v, str) and Path(v).is_absolute() else v for k, v in info.items()}

    pending = [shown(e) for e in store.pending_entries()]
    archived = [{"round": folder.name, "info": without_paths(info), "entries": [shown(e) for e in entries]}
                for folder, info, entries in store.archived_rounds()]
    return {"pending": pending, "archived": archived}


@router.delete("/v1/feedback/{clip_id}")
async def remove_feedback(clip_id: str, request: Request, service: ServiceState):
    name = service.writer(request)
    try:
        entry = await run_in_threadpool(service.store.remove, clip_id, None if service.is_admin(name) else name)
    except FeedbackRejected as e:
        raise ServiceError(403 if e.reason == "not yours" else 404, str(e)) from e
    return {"id": entry.id, "status": "removed"}
