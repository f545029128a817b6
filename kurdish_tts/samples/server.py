"""A service running in a thread on a free loopback port, for the tests and benchmarks that talk
to it over real HTTP (tests/test_serve.py, bench/bench_serve.py).

    with running(create_app(args)) as url:
        httpx.post(f"{url}/v1/audio/speech", json={"input": "Rojbaş."})
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

START_TIMEOUT_S = 60.0  # seconds for uvicorn to report that it listens


@contextlib.contextmanager
def running(app, host: str = "127.0.0.1", **options) -> Iterator[str]:
    """`app` (an ASGI app) under uvicorn in a thread, on a free port of `host`, until the block
    ends; yields its URL, `http://host:port`. `options` go to uvicorn.Config (serving.app.uvicorn_options).
    Raises RuntimeError if it has not started in time."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the service did not start on {host}:{port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
