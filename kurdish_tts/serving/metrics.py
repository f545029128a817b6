"""What the service has done, for Prometheus (`GET /metrics`, prometheus-client's text format), and
one log line per request (JSON with --log_json). Neither holds any text or audio a request carried.

    kurmanji_tts_requests_total{route, status}              requests answered
    kurmanji_tts_request_seconds{route}                     time to the whole answer (histogram)
    kurmanji_tts_first_audio_seconds{format}                speech: time to the first PCM samples (histogram)
    kurmanji_tts_synthesis_seconds_total                    compute spent speaking
    kurmanji_tts_audio_seconds_total                        audio served (their ratio: the real-time factor)
    kurmanji_tts_speech_in_progress                         speech requests being made or waiting (the queue)
    kurmanji_tts_cache_hits_total                           speech answered from the cache
    kurmanji_tts_corrections_total{outcome}                 corrections taken in (added, replaced, duplicate)
                                                            or refused (by reason)
    kurmanji_tts_votes_total                                A/B votes
    kurmanji_tts_model_info{model, weights}                 1 for each served model's weights (sha256, 16 digits)
"""

from __future__ import annotations

import json
import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)
log = logging.getLogger("kurdish_tts.requests")


class Metrics:
    """The service's metrics, in a registry of their own (several apps in one process each count their own)."""

    def __init__(self, in_progress=lambda: 0):
        self.registry = registry = CollectorRegistry()
        self.requests = Counter("kurmanji_tts_requests", "Requests answered", ["route", "status"], registry=registry)
        self.request_seconds = Histogram("kurmanji_tts_request_seconds", "Seconds to the whole answer", ["route"],
                                         buckets=LATENCY_BUCKETS, registry=registry)
        self.first_audio = Histogram("kurmanji_tts_first_audio_seconds", "Speech: seconds to the first PCM samples",
                                     ["format"], buckets=LATENCY_BUCKETS, registry=registry)
        self.synthesis_seconds = Counter("kurmanji_tts_synthesis_seconds", "Compute seconds spent speaking",
                                         registry=registry)
        self.audio_seconds = Counter("kurmanji_tts_audio_seconds", "Seconds of audio served", registry=registry)
        self.in_progress = Gauge("kurmanji_tts_speech_in_progress", "Speech requests being made or waiting",
                                 registry=registry)
        self.in_progress.set_function(in_progress)
        self.cache_hits = Counter("kurmanji_tts_cache_hits", "Speech answered from the cache", registry=registry)
        self.corrections = Counter("kurmanji_tts_corrections", "Corrections taken in or refused, by outcome",
                                   ["outcome"], registry=registry)
        self.votes = Counter("kurmanji_tts_votes", "A/B votes", registry=registry)
        self.models = Gauge("kurmanji_tts_model_info", "The served models' weights", ["model", "weights"],
                            registry=registry)

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def model_loaded(self, model: str, weights: str) -> None:
        """A model's weights were loaded: its row is the only one for that model."""
        for labels in [m for m in self.models._metrics if m[0] == model]:  # an older version of the model
            self.models.remove(*labels)
        self.models.labels(model, weights).set(1)


class Recorder:
    """ASGI middleware: counts each HTTP request by its route (the template, never the path a client
    sent) and status, times it, and logs one line for it."""

    def __init__(self, app, metrics: Metrics, log_json: bool = False):
        self.app, self.metrics, self.log_json = app, metrics, log_json

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            seconds = time.perf_counter() - started
            self.metrics.requests.labels(route, str(status[0])).inc()
            self.metrics.request_seconds.labels(route).observe(seconds)
            fields = {"method": scope.get("method", ""), "route": route, "status": status[0],
                      "seconds": round(seconds, 4)}
            if self.log_json:
                log.info(json.dumps(fields))
            else:
                log.info("%s %s %s %.3f s", fields["method"], route, fields["status"], seconds)
