#!/usr/bin/env python3
"""The voice service an app talks to: speech (OpenAI-compatible), the models it serves,
corrections that go straight into the feedback a training round learns from, and A/B votes.

    python serve.py --model models/kurdish --data_dir training            # http://127.0.0.1:8000
    python serve.py --model models/kurdish --model models/kurdish-onnx --port 8080 --cors_origin https://app.example
    python serve.py --data_dir training --add_key my-app                  # prints a new key once, on its last line
    python serve.py --data_dir training --remove_key my-app

Endpoints: POST /v1/audio/speech, GET /v1/models, POST|GET /v1/feedback, DELETE /v1/feedback/{id},
POST|GET /v1/ab, GET /healthz. Writes (feedback, votes) and the feedback listing need
`Authorization: Bearer KEY` unless --open_feedback; speech and the model list are open.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kurdish_tts import hub
from kurdish_tts.feedback.store import FeedbackRejected, FeedbackStore
from kurdish_tts.serving import service
from kurdish_tts.serving.service import FORMATS, ServiceError
from kurdish_tts.synthesis.voice import normalizer_notice
from kurdish_tts.text.vocabulary import load_vocabulary

MAX_SPEED = 4.0
MIN_SPEED = 0.25
CACHE_ENTRIES = 128
PAGE = Path(__file__).resolve().parent / "kurdish_tts" / "page.html"  # no build step: one file, plain JS
UPLOAD_DIR = "uploads"  # under <data_dir>/service: an upload lives here only until the intake has stored it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", type=Path, action="append",
                        help="model folder to serve (repeatable; default models/kurdish); the model folders beside "
                             "it named after it (dated backups, ONNX exports) are served too")
    parser.add_argument("--data_dir", type=Path, default=Path("training"),
                        help="the training folder: feedback goes to its feedback/, keys and votes to its service/")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--add_key", metavar="NAME", help="make an access key, print it once, store only its hash, exit")
    keys.add_argument("--remove_key", metavar="NAME", help="remove an access key and exit")
    parser.add_argument("--open_feedback", action="store_true",
                        help="accept corrections and votes without a key (a kiosk); off by default")
    parser.add_argument("--max_text_chars", type=int, default=4000, help="longer speech requests answer 413")
    parser.add_argument("--max_upload_mb", type=float, default=20.0, help="larger uploads answer 413")
    parser.add_argument("--rate_limit", type=int, default=120,
                        help="requests a minute per address (reads) or per key (writes); 0: no limit")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                        help="synthesis threads (each uses cores / workers torch threads)")
    parser.add_argument("--queue", type=int, default=16,
                        help="speech requests in progress or waiting; more answer 503 with Retry-After")
    parser.add_argument("--cors_origin", action="append", default=[], help="a web origin the browser may call from")
    return parser


class Speech(BaseModel):
    """OpenAI's speech request; `voice` is a speaker id for a multi-speaker model, ignored otherwise."""

    input: str
    model: str | None = None
    voice: str | None = None
    response_format: str = "mp3"
    speed: float = 1.0


class Vote(BaseModel):
    text: str
    a: str
    b: str
    winner: str  # a, b or tie


class Synthesis:
    """Synthesis off the event loop: a small thread pool, a bounded number of requests in progress,
    and a cache of recent results (same model weights, text and settings: the same audio)."""

    def __init__(self, workers: int, queue: int):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="speak")
        self.queue, self.busy, self.lock = queue, 0, threading.Lock()
        self.cache: collections.OrderedDict = collections.OrderedDict()

    def enter(self) -> None:
        with self.lock:
            if self.busy >= self.queue:
                raise ServiceError(503, f"{self.busy} speech requests are in progress: try again in a moment",
                                   {"Retry-After": "2"})
            self.busy += 1

    def leave(self) -> None:
        with self.lock:
            self.busy -= 1

    def cached(self, key: tuple) -> bytes | None:
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
        return None

    def keep(self, key: tuple, body: bytes) -> None:
        with self.lock:
            self.cache[key] = body
            while len(self.cache) > CACHE_ENTRIES:
                self.cache.popitem(last=False)

    async def run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, function, *args)


@contextlib.contextmanager
def running(app, host: str = "127.0.0.1"):
    """`app` under uvicorn in a thread, on a free port of `host`, until the block ends; -> its URL
    (the tests and bench/bench_serve.py)."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def speaker_of(voice, name: str | None) -> int | None:
    """OpenAI's `voice`: a speaker id for a multi-speaker model; any value for a one-voice model."""
    if voice.config.num_speakers <= 1:
        return None
    if name is None or not str(name).isdigit() or int(name) >= voice.config.num_speakers:
        raise ServiceError(422, f"voice {name!r}: this model has speakers 0-{voice.config.num_speakers - 1}")
    return int(name)


def create_app(args: argparse.Namespace, shelf: service.Shelf | None = None):
    from kurdish_tts.synthesis.voice import PAUSE_S, Settings, SynthesisError

    shelf = shelf or service.Shelf(args.model)
    synthesis = Synthesis(args.workers, args.queue)
    keys, votes, store = service.Keys(args.data_dir), service.Votes(args.data_dir), FeedbackStore(args.data_dir)
    reads, writes = service.RateLimit(args.rate_limit), service.RateLimit(args.rate_limit)
    app = FastAPI(title="Kurmanji voice service", version="1")
    if args.cors_origin:
        app.add_middleware(CORSMiddleware, allow_origins=args.cors_origin, allow_methods=["*"], allow_headers=["*"])

    @app.exception_handler(ServiceError)
    async def refused(request, error: ServiceError):
        return JSONResponse({"error": {"message": str(error), "code": error.status}}, error.status, error.headers)

    def client(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def writer(request: Request) -> str:
        """The name of the request's key (rate-limited per key); a kiosk without --open_feedback needs one."""
        header = request.headers.get("authorization", "")
        owner = keys.owner(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if owner is None and not args.open_feedback:
            raise ServiceError(401, "this needs Authorization: Bearer KEY (make one with serve.py --add_key NAME)",
                               {"WWW-Authenticate": "Bearer"})
        name = owner or f"open:{client(request)}"
        writes.check(name)
        return name

    @app.get("/", response_class=HTMLResponse)
    async def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "models": sorted(shelf.listing())}

    @app.get("/v1/models")
    async def models(request: Request):
        reads.check(client(request))
        listing = shelf.listing()
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "kurmanji-tts", "kind": kind,
                                            "path": str(folder)} for name, (folder, kind) in sorted(listing.items())]}

    @app.post("/v1/audio/speech")
    async def speech(body: Speech, request: Request):
        reads.check(client(request))
        if len(body.input) > args.max_text_chars:
            raise ServiceError(413, f"the input is {len(body.input)} characters; at most {args.max_text_chars} "
                                    f"(--max_text_chars)")
        if body.response_format not in FORMATS:
            raise ServiceError(422, f"response_format {body.response_format!r}: use one of {', '.join(FORMATS)}")
        if not MIN_SPEED <= body.speed <= MAX_SPEED:
            raise ServiceError(422, f"speed {body.speed:g}: give a value from {MIN_SPEED} to {MAX_SPEED}")
        model_id, loaded = await run_in_threadpool(shelf.get, body.model)
        voice = loaded.voice  # this request speaks with this voice to its end, whatever a swap does meanwhile
        try:
            sentences = voice.sentences(body.input)
        except SynthesisError as e:
            raise ServiceError(422, str(e)) from e
        speaker = speaker_of(voice, body.voice)
        key = (model_id, loaded.weights, tuple(sentences), body.response_format, body.speed, speaker)
        kind, rate = body.response_format, voice.sampling_rate
        hit = synthesis.cached(key)
        if hit is not None:
            return Response(hit, media_type=service.media_type(kind))
        synthesis.enter()

        def say(index: int, sentence: str):
            audio = voice.speak(sentence, Settings(speaking_rate=body.speed, speaker_id=speaker, seed=index))
            if index < len(sentences) - 1:
                audio = np.concatenate([audio, np.zeros(int(PAUSE_S * rate), dtype=audio.dtype)])
            return audio

        if kind not in service.STREAMED:  # formats that cannot be joined from pieces: sent whole
            try:
                pieces = [await synthesis.run(say, i, s) for i, s in enumerate(sentences)]
                encoded = await synthesis.run(service.encode_whole, np.concatenate(pieces), rate, kind)
            finally:
                synthesis.leave()
            synthesis.keep(key, encoded)
            return Response(encoded, media_type=service.media_type(kind))

        async def stream():
            parts = []
            try:
                if kind == "wav":
                    parts.append(service.wav_header(rate))
                    yield parts[-1]
                for index, sentence in enumerate(sentences):
                    parts.append(service.pcm16(await synthesis.run(say, index, sentence)))
                    yield parts[-1]
            finally:
                synthesis.leave()
            whole = b"".join(parts)
            if kind == "wav":  # the cached copy has its true length in the header
                whole = service.wav_header(rate, len(whole) - 44) + whole[44:]
            synthesis.keep(key, whole)

        return StreamingResponse(stream(), media_type=service.media_type(kind))

    @app.post("/v1/feedback", status_code=201)
    async def add_feedback(request: Request, audio: UploadFile = File(...), text: str = Form(...),
                           spoken_text: str = Form(""), model: str = Form(""), note: str = Form(""),
                           consent: str = Form("")):
        name = writer(request)
        limit = int(args.max_upload_mb * 1e6)
        folder = args.data_dir / service.SERVICE_DIR / UPLOAD_DIR
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=Path(audio.filename or "a.wav").suffix[:8]) as upload:
            size = 0
            while block := await audio.read(1 << 20):
                size += len(block)
                if size > limit:
                    raise ServiceError(413, f"the upload is over {args.max_upload_mb:g} MB (--max_upload_mb)")
                upload.write(block)
            upload.flush()
            characters = load_vocabulary(shelf.served[0]).characters  # what the served voice can say
            try:
                entry, outcome = await run_in_threadpool(
                    store.add, Path(upload.name), text, characters, speaker=name, source="serve", note=note,
                    spoken_text=spoken_text, model=model, consent=consent)
            except FeedbackRejected as e:
                status = 413 if e.reason == "too long" else 415 if e.reason in ("undecodable audio", "empty file") else 422
                message = str(e).replace(upload.name, audio.filename or "the upload")
                raise ServiceError(status, message) from e
        return JSONResponse({"id": entry.id, "status": outcome, "text": entry.text, "seconds": entry.seconds},
                            201 if outcome in ("added", "replaced") else 200)

    @app.get("/v1/feedback")
    async def list_feedback(request: Request):
        writer(request)
        pending = [asdict(e) for e in store.pending_entries()]
        archived = [{"round": folder.name, "info": info, "entries": [asdict(e) for e in entries]}
                    for folder, info, entries in store.archived_rounds()]
        return {"pending": pending, "archived": archived}

    @app.delete("/v1/feedback/{clip_id}")
    async def remove_feedback(clip_id: str, request: Request):
        writer(request)
        try:
            entry = await run_in_threadpool(store.remove, clip_id)
        except FeedbackRejected as e:
            raise ServiceError(404, str(e)) from e
        return {"id": entry.id, "status": "removed"}

    @app.post("/v1/ab", status_code=201)
    async def add_vote(vote: Vote, request: Request):
        name = writer(request)
        if vote.winner not in ("a", "b", "tie"):
            raise ServiceError(422, f"winner {vote.winner!r}: give a, b or tie")
        if vote.a == vote.b:
            raise ServiceError(422, "a and b are the same model: compare two served models")
        (a_id, a), (b_id, b) = await run_in_threadpool(shelf.get, vote.a), await run_in_threadpool(shelf.get, vote.b)
        record = {"text": vote.text, "a": a_id, "a_weights": a.weights, "b": b_id, "b_weights": b.weights,
                  "winner": vote.winner, "by": name}
        await run_in_threadpool(votes.add, record)
        return record

    @app.get("/v1/ab")
    async def vote_summary(request: Request):
        reads.check(client(request))
        return {"pairs": votes.summary()}

    return app


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.model = args.model or [Path("models/kurdish")]
    for name in ("max_text_chars", "workers", "queue"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.rate_limit < 0 or not args.max_upload_mb > 0:
        parser.error("--rate_limit must be 0 (off) or more, --max_upload_mb above 0")
    keys = service.Keys(args.data_dir)
    try:
        if args.add_key:
            key = keys.add(args.add_key)
            print(f"key {args.add_key!r} made; only its hash is kept in {keys.path}. Send it as "
                  f"'Authorization: Bearer KEY'; it is shown this once:")
            print(key)
            return 0
        if args.remove_key:
            keys.remove(args.remove_key)
            print(f"key {args.remove_key!r} removed")
            return 0
    except ServiceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    problems = [p for p in (hub.model_folder_problem(m, hub_ids=False) for m in args.model) if p]
    if problems:
        print(f"error: --model {problems[0]}: pass a model folder saved by train_vits.py", file=sys.stderr)
        return 1
    for notice in filter(None, map(normalizer_notice, args.model)):
        print(f"notice: {notice}", file=sys.stderr)
    import torch
    import uvicorn

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.workers))
    uvicorn.run(create_app(args), host=args.host, port=args.port, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
