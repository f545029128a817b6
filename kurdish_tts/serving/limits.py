"""Request limits: how many requests a client may make in a minute."""

from __future__ import annotations

import collections
import math
import threading
import time

from kurdish_tts.serving.errors import ServiceError


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
            times = self.seen[client]
            while times and now - times[0] >= 60.0:
                times.popleft()
            if len(times) >= self.per_minute:
                wait = math.ceil(60.0 - (now - times[0]))
                raise ServiceError(429, f"more than {self.per_minute} requests a minute: wait {wait} s",
                                   {"Retry-After": str(wait)})
            times.append(now)
