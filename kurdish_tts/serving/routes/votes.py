"""POST /v1/ab: a listener's vote between two served models on one text; GET /v1/ab: the win
rates per pair of model weights."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.state import ServiceState

router = APIRouter()


class Vote(BaseModel):
    text: str
    a: str
    b: str
    winner: str  # a, b or tie


@router.post("/v1/ab", status_code=201)
async def add_vote(vote: Vote, request: Request, service: ServiceState):
    name = service.writer(request)
    if vote.winner not in ("a", "b", "tie"):
        raise ServiceError(422, f"winner {vote.winner!r}: give a, b or tie")
    if vote.a == vote.b:
        raise ServiceError(422, "a and b are the same model: compare two served models")
    shelf = service.shelf
    (a_id, a), (b_id, b) = await run_in_threadpool(shelf.get, vote.a), await run_in_threadpool(shelf.get, vote.b)
    record = {"text": vote.text, "a": a_id, "a_weights": a.weights, "b": b_id, "b_weights": b.weights,
              "winner": vote.winner, "by": name}
    await run_in_threadpool(service.votes.add, record)
    return record


@router.get("/v1/ab")
async def vote_summary(request: Request, service: ServiceState):
    service.reader(request)
    return {"pairs": service.votes.summary()}
