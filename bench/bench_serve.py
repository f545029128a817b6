#!/usr/bin/env python3
"""Benchmark of the voice service on the loopback interface: requests a second and latency at 1, 2,
4 and 8 concurrent clients, and how soon the first audio of a long text arrives.

Serves the stand-in voice (data/pretrained/model, or --model) with serve.py's app under uvicorn in
this process, on 127.0.0.1 only. Each client sends --requests speech requests one after another, each
a different sentence (so that no answer comes from the cache), and reads the whole answer. Then a
text of --sentences sentences is streamed as pcm: the time to its first chunk is set beside the time
one sentence takes alone and the time of the whole text. Exits 1 on any failed request.

    python bench/bench_serve.py                       # 1, 2, 4, 8 clients x 6 requests
    python bench/bench_serve.py --clients 1 2 --requests 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import serve
from kurdish_tts.samples.server import running
from kurdish_tts.serving.app import uvicorn_options
from kurdish_tts.text.normalizer import number_to_words

SENTENCE = "Ez {} salî me û li Amedê dijîm."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "pretrained" / "model")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--requests", type=int, default=6, help="requests per client")
    parser.add_argument("--sentences", type=int, default=6, help="sentences of the streamed text")
    parser.add_argument("--workers", type=int, default=serve.build_parser().get_default("workers"))
    parser.add_argument("--threads", type=int, help="torch threads (default: the cores / --workers, as serve.py)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "serve.json")
    options = parser.parse_args()
    import httpx
    import torch

    torch.set_num_threads(options.threads or max(1, (os.cpu_count() or 1) // options.workers))
    counter = iter(range(10**9))
    errors, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "models" / "kurdish"
        shutil.copytree(options.model, model)
        args = serve.build_parser().parse_args(["--model", str(model), "--data_dir", str(Path(tmp) / "training"),
                                                "--rate_limit", "0", "--workers", str(options.workers), "--queue", "64"])
        with running(serve.create_app(args), **uvicorn_options(args)) as url:
            def request(client: httpx.Client, text: str) -> float:
                started = time.perf_counter()
                answer = client.post(f"{url}/v1/audio/speech", json={"input": text, "response_format": "wav"})
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code}: {answer.text[:100]}")
                return time.perf_counter() - started

            with httpx.Client(timeout=300) as client:
                request(client, "Rojbaş.")  # loads the model
            for clients in options.clients:
                def run_client(_):
                    with httpx.Client(timeout=300) as client:
                        return [request(client, SENTENCE.format(number_to_words(next(counter) + 20)))
                                for _ in range(options.requests)]

                started = time.perf_counter()
                with ThreadPoolExecutor(clients) as pool:
                    latencies = [t for times in pool.map(run_client, range(clients)) for t in times]
                elapsed = time.perf_counter() - started
                rows.append({"clients": clients, "requests": len(latencies), "requests_per_s": len(latencies) / elapsed,
                             "p50_s": float(np.percentile(latencies, 50)), "p95_s": float(np.percentile(latencies, 95))})
                print(f"{clients} client(s): {rows[-1]['requests_per_s']:.2f} requests/s, p50 {rows[-1]['p50_s']:.2f} s, "
                      f"p95 {rows[-1]['p95_s']:.2f} s", flush=True)
            words = [number_to_words(next(counter) + 1000) for _ in range(options.sentences + 1)]
            with httpx.Client(timeout=300) as client:
                alone = request(client, SENTENCE.format(words[0]))
                text = " ".join(SENTENCE.format(w) for w in words[1:])
                started = time.perf_counter()
                with client.stream("POST", f"{url}/v1/audio/speech", json={"input": text, "response_format": "pcm"}) as answer:
                    first = None
                    for _ in answer.iter_raw():
                        first = first or time.perf_counter() - started
                whole = time.perf_counter() - started
    stream = {"sentences": options.sentences, "first_audio_s": first, "one_sentence_s": alone, "whole_s": whole}
    print(f"streamed {options.sentences} sentences: first audio after {first:.2f} s (one sentence alone: {alone:.2f} s), "
          f"all after {whole:.2f} s; {options.workers} synthesis worker(s), {torch.get_num_threads()} torch threads each")
    print("| clients | requests/s | p50 s | p95 s |\n|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['clients']} | {row['requests_per_s']:.2f} | {row['p50_s']:.2f} | {row['p95_s']:.2f} |")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"load": rows, "stream": stream, "errors": errors, "workers": options.workers,
                                          "threads": torch.get_num_threads()}, indent=1) + "\n", encoding="utf-8")
    if errors:
        print(f"{len(errors)} requests failed, the first: {errors[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
