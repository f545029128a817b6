#!/usr/bin/env python3
"""The voice service an app talks to: speech (OpenAI-compatible), the models it serves,
corrections that go straight into the feedback a training round learns from, and A/B votes.

    python serve.py --model models/kurdish --data_dir training            # http://127.0.0.1:8000
    python serve.py --model models/kurdish --model models/kurdish-onnx --port 8080 --cors_origin https://app.example
    python serve.py --data_dir training --add_key my-app                  # prints a new key once, on its last line
    python serve.py --data_dir training --add_key moderator --admin       # may remove feedback any key sent
    python serve.py --data_dir training --remove_key my-app

Endpoints: POST /v1/audio/speech, GET /v1/models, POST|GET /v1/feedback, DELETE /v1/feedback/{id},
POST|GET /v1/ab, GET /healthz. Writes (feedback, votes) need `Authorization: Bearer KEY` unless
--open_feedback; the feedback listing and deletion always need one (another key's entry: an admin
key); speech, the model list and the vote summary are open. Limits: README, "5. Serve".
The app, its routes and the models' hot swap are in kurdish_tts/serving/ (app.py, routes/, shelf.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from kurdish_tts.feedback.store import StoreDamaged
from kurdish_tts.serving.app import MAX_TEXT_CHARS, create_app, uvicorn_options
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.keys import Keys, KeysDamaged
from kurdish_tts.synthesis.voice import normalizer_notice, voice_folder_problem


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
    parser.add_argument("--admin", action="store_true", help="with --add_key: the key may remove any key's feedback")
    parser.add_argument("--open_feedback", action="store_true",
                        help="accept corrections (POST /v1/feedback) and votes (POST /v1/ab) without a key (a kiosk); "
                             "listing and removing feedback still need one")
    parser.add_argument("--max_text_chars", type=int, default=MAX_TEXT_CHARS,
                        help="characters a speech request may have, as sent and once numbers are spelled out (a "
                             "correction's text: as sent); more answer 413")
    parser.add_argument("--max_upload_mb", type=float, default=20.0, help="larger uploads answer 413")
    parser.add_argument("--rate_limit", type=int, default=120,
                        help="requests a minute per address (reads) or per key (writes); 0: no limit")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="synthesis threads, one a core by default (each computes with cores / workers torch "
                             "threads: on 2 cores 2 workers of 1 thread serve 2.4 times the requests of 1 worker of "
                             "2 at 4 clients, and one client sooner too; BENCHMARKS.md)")
    parser.add_argument("--threads", type=int,
                        help="torch threads each synthesis worker computes with (default: the cores / --workers)")
    parser.add_argument("--queue", type=int, default=16,
                        help="speech requests in progress or waiting; more answer 503 with Retry-After")
    parser.add_argument("--max_connections", type=int, default=64,
                        help="connections and requests uvicorn serves at once; more answer 503")
    parser.add_argument("--body_timeout_s", type=float, default=10.0,
                        help="the longest a request body may pause; longer answers 408 (a whole body: 120 s at most)")
    parser.add_argument("--cors_origin", action="append", default=[], help="a web origin the browser may call from")
    parser.add_argument("--trust_proxy", nargs="?", const="127.0.0.1", metavar="ADDRESSES",
                        help="take the client's address from X-Forwarded-For when the request comes from these "
                             "addresses (a reverse proxy; comma-separated; default 127.0.0.1); off: the socket's "
                             "address, so per-address limits cannot be dodged by a header")
    parser.add_argument("--docs", action="store_true", help="serve the API's documentation at /docs and /openapi.json")
    parser.add_argument("--read_only", action="store_true",
                        help="a synthesis replica: speech and listings only; corrections and votes answer 403 and "
                             "nothing is written (run several behind a load balancer, one writing instance beside them)")
    parser.add_argument("--log_json", action="store_true",
                        help="log one JSON line per request (method, route, status, seconds; never text or audio)")
    parser.add_argument("--wyoming", metavar="URI", help="also speak the Wyoming protocol (Home Assistant), e.g. "
                        "tcp://0.0.0.0:10200: the served models as its voices, audio a sentence at a time")
    return parser


def address_problem(uri: str) -> str:
    """Why the Wyoming server cannot listen at `uri` ("" when it can)."""
    import socket
    from urllib.parse import urlparse

    where = urlparse(uri)
    if where.scheme == "unix":
        return ""
    if where.scheme != "tcp" or not where.hostname or not where.port:
        return "give tcp://HOST:PORT (or unix://PATH)"
    try:
        with socket.socket() as probe:
            probe.bind((where.hostname, where.port))
    except OSError as e:
        return f"cannot listen there ({e.strerror or e}): choose another port"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.model = args.model or [Path("models/kurdish")]
    for name in ("max_text_chars", "workers", "queue", "max_connections", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.wyoming and (problem := address_problem(args.wyoming)):
        parser.error(f"--wyoming {args.wyoming}: {problem}")
    if args.rate_limit < 0 or not args.max_upload_mb > 0 or not args.body_timeout_s > 0:
        parser.error("--rate_limit must be 0 (off) or more, --max_upload_mb and --body_timeout_s above 0")
    keys = Keys(args.data_dir)
    try:
        if args.admin and not args.add_key:
            parser.error("--admin goes with --add_key NAME")
        if args.add_key:
            key = keys.add(args.add_key, admin=args.admin)
            print(f"key {args.add_key!r} made; only its hash is kept in {keys.path}. Send it as "
                  f"'Authorization: Bearer KEY'; it is shown this once:")
            print(key)
            return 0
        if args.remove_key:
            keys.remove(args.remove_key)
            print(f"key {args.remove_key!r} removed")
            return 0
    except (ServiceError, KeysDamaged) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    problems = [p for p in (voice_folder_problem(m, hub_ids=False) for m in args.model) if p]
    if problems:
        print(f"error: --model {problems[0]}: pass a model folder saved by train_vits.py", file=sys.stderr)
        return 1
    for notice in filter(None, map(normalizer_notice, args.model)):
        print(f"notice: {notice}", file=sys.stderr)
    import torch
    import uvicorn

    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // args.workers))
    logging.basicConfig(level=logging.INFO, format="%(message)s" if args.log_json else "%(asctime)s %(message)s")
    try:  # the sweep of what a killed service left, and the feedback store's own check, come first
        app = create_app(args)
    except (StoreDamaged, ServiceError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", **uvicorn_options(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
