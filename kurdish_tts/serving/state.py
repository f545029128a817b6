"""What the routes of one running service share: its settings, models, feedback store, keys,
votes, request limits and synthesis worker. One `Service` is kept on `app.state.service`; a route
asks for it with a `ServiceState` parameter."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from kurdish_tts.feedback.store import FeedbackStore
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.keys import SERVICE_DIR, Keys
from kurdish_tts.serving.limits import InProgress, RateLimit
from kurdish_tts.serving.metrics import Metrics
from kurdish_tts.serving.shelf import Shelf
from kurdish_tts.serving.votes import Votes
from kurdish_tts.serving.worker import Synthesis

UPLOADS_AT_ONCE = 4  # each held in memory (up to --max_upload_mb, and its decoded audio) while it is taken in
LEGACY_UPLOADS = "uploads"  # under <data_dir>/service: where uploads were spooled before they were held in memory


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@dataclass
class Service:
    args: argparse.Namespace  # serve.py's settings
    shelf: Shelf
    synthesis: Synthesis
    keys: Keys
    votes: Votes
    store: FeedbackStore
    reads: RateLimit  # per client address
    writes: RateLimit  # per key name
    uploads: InProgress  # corrections being taken in at once
    metrics: Metrics  # GET /metrics

    @classmethod
    def start(cls, args: argparse.Namespace, shelf: Shelf | None = None) -> Service:
        """The service serve.py's `args` describe; `shelf` instead of one for `args.model` (the tests' slow voices).
        What a killed service left behind is swept first (see `sweep`)."""
        if not getattr(args, "read_only", False):  # a read-only replica writes nothing, its start included
            sweep(args.data_dir)
        synthesis = Synthesis(args.workers, args.queue)
        return cls(args, shelf or Shelf(args.model), synthesis, Keys(args.data_dir), Votes(args.data_dir),
                   FeedbackStore(args.data_dir), RateLimit(args.rate_limit), RateLimit(args.rate_limit),
                   InProgress(UPLOADS_AT_ONCE, "uploads"), Metrics(lambda: synthesis.requests.busy))

    def reader(self, request: Request) -> None:
        """Counts a read (speech, the model list, the votes) against its address's limit."""
        self.reads.check(client_address(request))

    def writer(self, request: Request, open_to_all: bool = False, reading: bool = False) -> str:
        """The name of the request's key (its writes rate-limited per key). Without a valid key: 401,
        counted against the address's limit, unless `open_to_all` and --open_feedback (a kiosk) and
        the request sends no key at all, when the name is "open:<address>". A read-only replica
        (--read_only) refuses every write with 403 (`reading`: a keyed read, such as the feedback list)."""
        if getattr(self.args, "read_only", False) and not reading:
            raise ServiceError(403, "this replica is read-only (--read_only): send corrections and votes to the "
                                    "writing instance")
        header = request.headers.get("authorization", "")
        owner = self.keys.owner(header[7:].strip()) if header.lower().startswith("bearer ") else None
        # a kiosk lets callers without a key in; a key that is wrong is refused even there
        if owner is None and (header or not (open_to_all and self.args.open_feedback)):
            self.reads.check(client_address(request))  # guessing keys costs requests like anything else
            raise ServiceError(401, "this needs Authorization: Bearer KEY (make one with serve.py --add_key NAME)",
                               {"WWW-Authenticate": "Bearer"})
        name = owner or f"open:{client_address(request)}"
        self.writes.check(name)
        return name

    def is_admin(self, name: str) -> bool:
        return self.keys.is_admin(name)


def sweep(data_dir) -> None:
    """Remove what a killed service may have left: uploads an older version kept on disk while it
    took them in (service/uploads/), and in the feedback store, atomic writes cut short and wavs no
    entry lists (FeedbackStore.reconcile). Uploads are held in memory now, so nothing new lands there."""
    import shutil

    shutil.rmtree(Path(data_dir) / SERVICE_DIR / LEGACY_UPLOADS, ignore_errors=True)
    store = FeedbackStore(data_dir)
    if store.root.is_dir():
        with store.locked():
            store.reconcile()


def current_service(request: Request) -> Service:
    return request.app.state.service


ServiceState = Annotated[Service, Depends(current_service)]
