"""POST /v1/ab: a listener's vote between two served models on one text; GET /v1/ab: the win
rates per pair of model weights."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from kurdish_tts.serving.errors import ServiceError, validation_message
from kurdish_tts.serving.state import ServiceState

router = APIRouter()


class Vote(BaseModel):
    text: str
    a: str
    b: str
    winner: str  # a, b or tie


@router.post("/v1/ab", status_code=201, openapi_extra={"requestBody": {"content": {"application/json": {
    "schema": Vote.model_json_schema()}}}})
async def add_vote(request: Request, service: ServiceState):
    name = service.writer(request, open_to_all=True)  # before the body is read
    try:
        vote = Vote.model_validate_json(await request.body())
    except ClientDisconnect:
        raise ServiceError(400, "the client went away before the vote was sent") from None
    except ValidationError as e:
        raise ServiceError(422, f"a vote is JSON with text, a, b and winner: {validation_message(e)}") from e
    if vote.winner not in ("a", "b", "tie"):
        raise ServiceError(422, f"winner {vote.winner[:20]!r}: give a, b or tie")
    limit = service.args.max_text_chars
    if len(vote.text) > limit:
        raise ServiceError(413, f"the text is {len(vote.text)} characters; at most {limit} (--max_text_chars)")
    shelf = service.shelf
    (a_id, a), (b_id, b) = await run_in_threadpool(shelf.get, vote.a), await run_in_threadpool(shelf.get, vote.b)
    if a_id == b_id:  # compared once names like "tts-1" are resolved to the model they mean
        raise ServiceError(422, f"a and b are both the model {a_id!r}: compare two served models")
    record = {"text": vote.text, "a": a_id, "a_weights": a.weights, "b": b_id, "b_weights": b.weights,
              "winner": vote.winner, "by": name}
    await run_in_threadpool(service.votes.add, record)
    service.metrics.votes.inc()
    return record


@router.get("/v1/ab")
async def vote_summary(request: Request, service: ServiceState):
    service.reader(request)
    return {"pairs": service.votes.summary()}
