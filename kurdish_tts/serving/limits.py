"""Request limits: how many requests a client may make in a minute."""

from __future__ import annotations

import collections
import math
import threading
import time

from kurdish_tts.serving.errors import ServiceError

FORGET_AFTER_CLIENTS = 10_000


class RateLimit:
    """At most `per_minute` requests per client in any 60 seconds (0: no limit)."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self.seen: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self.lock = threading.Lock()

    def check(self, client: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        with self.lock:
            if len(self.seen) > FORGET_AFTER_CLIENTS:  # clients quiet for a minute are forgotten
                for quiet in [c for c, t in self.seen.items() if not t or now - t[-1] >= 60.0]:
                    del self.seen[quiet]
            times = self.seen[client]
            while times and now - times[0] >= 60.0:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = math.ceil(60.0 - (now - times[0]))
                raise ServiceError(429, f"more than {self.per_minute} requests a minute: wait {wait} s",
                                   {"Retry-After": str(wait)})
            times.append(now)


class InProgress:
    """At most `limit` requests of a kind at once (speech in synthesis, uploads held in memory); one
    more answers 503 with Retry-After. `enter`/`leave`, or use it as a context manager."""

    def __init__(self, limit: int, what: str):
        self.limit, self.what, self.busy, self.lock = limit, what, 0, threading.Lock()

    def enter(self) -> None:
        with self.lock:
            if self.busy >= self.limit:
                raise ServiceError(503, f"{self.busy} {self.what} are in progress: try again in a moment",
                                   {"Retry-After": "2"})
            self.busy += 1

    def leave(self) -> int:
        """-> how many are still in progress."""
        with self.lock:
            self.busy -= 1
            return self.busy

    def __enter__(self):
        self.enter()
        return self

    def __exit__(self, *exc):
        self.leave()
