"""The synthesis worker: speech is made off the event loop in a small thread pool, with a bound on
the requests in progress and a cache of recent answers."""

from __future__ import annotations

import asyncio
import collections
import threading
from concurrent.futures import ThreadPoolExecutor

from kurdish_tts.serving.limits import InProgress

CACHE_ENTRIES = 128  # answers kept whole, the least recently asked for dropped first


class Synthesis:
    """Synthesis off the event loop: a small thread pool, a bounded number of requests in progress,
    and a cache of recent results (same model weights, text and settings: the same audio)."""

    def __init__(self, workers: int, queue: int):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="speak")
        self.requests, self.lock = InProgress(queue, "speech requests"), threading.Lock()
        self.cache: collections.OrderedDict = collections.OrderedDict()

    def enter(self) -> None:
        self.requests.enter()

    def leave(self) -> None:
        if self.requests.leave() == 0:
            release_memory()

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


def release_memory() -> None:
    """Hand the memory a finished request freed back to the system (glibc keeps it otherwise, and a
    long sentence's decoder needs a few hundred MB): the service's size stays near its idle size."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl): nothing to trim
        return None


_LIBC = _libc()
