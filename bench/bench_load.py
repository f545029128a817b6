#!/usr/bin/env python3
"""The voice service under a steady mixed load, with a model swapped in the middle: nothing lost.

serve.py runs as its own process on a loopback port (the stand-in, a fresh data folder, one key);
--clients threads send requests for --seconds and then stop by themselves, each drawing, in turn,
speech sent whole (mp3), speech streamed (pcm), a correction (a generated recording), an A/B vote
and a listing (/v1/models, /v1/feedback, /metrics). Half-way, a new model folder replaces the served
one (as a feedback round installs it). Reported: requests and errors (anything but 2xx and the
intended 429/503), p50/p95 latency per kind, the service's resident memory once the load is
running (after 15 % of the time: every worker has spoken) and at the end, and the corrections the
service accepted against those pending in its store afterwards (they must be equal). Exits 1 when
anything was lost or failed.

    python bench/bench_load.py                             # 8 clients, 60 s
    python bench/bench_load.py --clients 2 --seconds 5     # the test suite's size
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kurdish_tts.files import replace_folder
from kurdish_tts.samples.signals import encode, speech_like

TEXTS = ["Rojbaş.", "Ez 25 salî me û li Amedê dijîm.", "Hewa îro pir xweş e. Em ê herin baxçe.",
         "Zarok li baxçe dilîzin û stranan dibêjin."]
KINDS = ("speech whole", "speech streamed", "correction", "vote", "listing")


def memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_service(workspace: Path, port: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--model", str(workspace / "models" / "kurdish"),
                             "--data_dir", str(workspace / "training"), "--port", str(port), "--rate_limit", "0",
                             "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_until_up(url: str, service: subprocess.Popen, seconds: float = 120.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or service.poll() is not None:
            raise RuntimeError("serve.py did not start")
        time.sleep(0.3)


def client(url: str, auth: dict, stop: threading.Event, seed: int, results: list, lock: threading.Lock) -> None:
    import httpx

    rng = random.Random(seed)
    with httpx.Client(timeout=120) as http:
        turn = seed
        while not stop.is_set():
            kind = KINDS[turn % len(KINDS)]
            turn += 1
            text = rng.choice(TEXTS)
            spoken = f"{text} {rng.randrange(1000)}."  # speech: a new text most times, spoken rather than cached
            started = time.perf_counter()
            try:
                if kind == "speech whole":
                    status = http.post(f"{url}/v1/audio/speech", json={"input": spoken, "response_format": "mp3"}).status_code
                elif kind == "speech streamed":
                    with http.stream("POST", f"{url}/v1/audio/speech", json={"input": spoken, "response_format": "pcm"}) as r:
                        for _ in r.iter_raw():
                            pass
                        status = r.status_code
                elif kind == "correction":
                    audio = encode(speech_like(2.0, 16000, seed=rng.randrange(10**6)), 16000, "WAV")
                    status = http.post(f"{url}/v1/feedback", headers=auth, files={"audio": ("c.wav", io.BytesIO(audio))},
                                       data={"text": text}).status_code
                elif kind == "vote":
                    status = http.post(f"{url}/v1/ab", headers=auth, json={"text": text, "a": "kurdish",
                                                                           "b": "kurdish-variant", "winner": "a"}).status_code
                else:
                    status = http.get(f"{url}{rng.choice(['/v1/models', '/metrics'])}").status_code
                    http.get(f"{url}/v1/feedback", headers=auth).raise_for_status()
            except httpx.HTTPError as e:
                status = f"{type(e).__name__}"
            with lock:
                results.append((kind, status, time.perf_counter() - started, started))


def swap(workspace: Path) -> None:
    """A new served model, as a feedback round installs one: a whole folder replaces the old."""
    models = workspace / "models"
    staging = Path(tempfile.mkdtemp(dir=models, prefix=".swap."))
    shutil.rmtree(staging)
    shutil.copytree(models / "kurdish", staging)
    replace_folder(staging, models / "kurdish")


def run(clients: int, seconds: float, workers: int, model: Path) -> dict:
    import httpx

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        workspace = Path(tmp)
        shutil.copytree(model, workspace / "models" / "kurdish")
        shutil.copytree(model, workspace / "models" / "kurdish-variant")  # the other side of the votes
        made = subprocess.run([sys.executable, str(ROOT / "serve.py"), "--data_dir", str(workspace / "training"),
                               "--add_key", "load"], check=True, capture_output=True, text=True, cwd=ROOT)
        auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        service = start_service(workspace, port, workers)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(url, service)
            httpx.post(f"{url}/v1/audio/speech", json={"input": "Rojbaş."}, timeout=120)  # the model loaded
            stop, lock, results = threading.Event(), threading.Lock(), []
            threads = [threading.Thread(target=client, args=(url, auth, stop, seed, results, lock)) for seed in range(clients)]
            for thread in threads:
                thread.start()
            time.sleep(seconds * 0.15)  # every worker has spoken and every cache begun: the start's memory
            start_mb = memory_mb(service.pid)
            time.sleep(seconds * 0.35)
            swap(workspace)
            swapped = time.perf_counter()
            time.sleep(seconds / 2)
            stop.set()
            for thread in threads:
                thread.join()
            end_mb = memory_mb(service.pid)
            pending = httpx.get(f"{url}/v1/feedback", headers=auth, timeout=60).json()["pending"]
        finally:
            service.terminate()
            service.wait(timeout=30)
    accepted = sum(1 for kind, status, *_ in results if kind == "correction" and status in (200, 201))
    added = sum(1 for kind, status, *_ in results if kind == "correction" and status == 201)
    errors = [(kind, status) for kind, status, *_ in results if status not in (200, 201, 429, 503)]
    after_swap = sum(1 for kind, status, _, began in results if kind.startswith("speech") and status == 200 and began > swapped)
    per_kind = {}
    for kind in KINDS:
        times = [t for k, status, t, _ in results if k == kind and status in (200, 201)]
        if times:
            per_kind[kind] = {"requests": len(times), "p50_s": round(float(np.percentile(times, 50)), 3),
                              "p95_s": round(float(np.percentile(times, 95)), 3)}
    return {"clients": clients, "seconds": seconds, "workers": workers, "requests": len(results),
            "errors": len(errors), "error_examples": errors[:5],
            "refused_busy": sum(1 for _, status, *_ in results if status in (429, 503)), "speech_after_swap": after_swap,
            "per_kind": per_kind, "memory_start_mb": round(start_mb, 1), "memory_end_mb": round(end_mb, 1),
            "corrections_added": added, "corrections_accepted": accepted, "pending": len(pending)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "pretrained" / "model")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "load.json")
    options = parser.parse_args(argv)
    report = run(options.clients, options.seconds, options.workers, options.model)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))
    growth = report["memory_end_mb"] / report["memory_start_mb"] - 1
    lost = report["pending"] != report["corrections_added"]
    print(f"{report['requests']} requests, {report['errors']} errors, memory {report['memory_start_mb']:.0f} -> "
          f"{report['memory_end_mb']:.0f} MB ({growth:+.0%}), corrections added {report['corrections_added']}, "
          f"pending {report['pending']}")
    return 1 if report["errors"] or lost else 0


if __name__ == "__main__":
    sys.exit(main())
