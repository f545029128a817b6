#!/usr/bin/env python3
"""Benchmark of the voice service's worst inputs: for each, the answer, its time and the service
process's peak memory over its idle size.

Starts serve.py (of this checkout, or of --root, another checkout: to measure a version before
these bounds) as its own process on a loopback port with the stand-in voice and one synthesis
worker, waits until it has spoken once, then sends each input alone. The peak is the process's
high-water mark (VmHWM), reset before each input (/proc/PID/clear_refs), less its resident size
just before it (what the allocator kept from earlier inputs is reported beside it): Linux only.

    python bench/bench_abuse.py
    python bench/bench_abuse.py --root /tmp/before --output bench/results/abuse-before.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SPEECH = [  # (what, request body)
    ("3,999 letters a, no space", {"input": "a" * 3999}),
    ("'999999998 ' x 100 (1,000 characters)", {"input": "999999998 " * 100}),
    ("600 letters a, no space (the longest accepted)", {"input": "a" * 600}),
    ("'a ' x 300 (600 characters)", {"input": "a " * 300}),
    ("'999999998 ' x 13 (read out: about 560 characters)", {"input": "999999998 " * 13}),
    ("600 characters of Kurmanji, commas, one sentence", {"input": ("ez diçim malê, tu li vir bimîne " * 20)[:600]}),
    ("'a. ' x 200 (200 sentences of one letter)", {"input": "a. " * 200}),
    ("'ez. ' x 60 (60 sentences, the most accepted)", {"input": "ez. " * 60}),
]


def memory(pid: int, field: str) -> float:
    """VmRSS or VmHWM of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


def raw_post(port: int, head: bytes, wait_s: float = 30.0) -> tuple[str, str]:
    """A request that announces a body and sends none of it: its status and reason, or none in `wait_s`."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as connection:
        connection.sendall(head + b"\r\n\r\n")
        try:
            line = connection.recv(4096).split(b"\r\n", 1)[0].decode()
        except TimeoutError:
            return "-", f"no answer in {wait_s:g} s"
        return line.split(" ", 2)[1], line.split(" ", 2)[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose serve.py runs")
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "pretrained" / "model")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "abuse.json")
    options = parser.parse_args()
    import httpx

    rows = []
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        model = Path(tmp) / "models" / "kurdish"
        shutil.copytree(options.model, model)
        data = Path(tmp) / "training"
        made = subprocess.run([sys.executable, str(options.root / "serve.py"), "--data_dir", str(data), "--add_key",
                               "bench"], check=True, capture_output=True, text=True, cwd=options.root)
        auth = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        service = subprocess.Popen([sys.executable, str(options.root / "serve.py"), "--model", str(model), "--data_dir",
                                    str(data), "--port", str(port), "--workers", "1", "--rate_limit", "0"],
                                   cwd=options.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.post(f"{url}/v1/audio/speech", json={"input": "Rojbaş.", "response_format": "wav"}, timeout=60)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or service.poll() is not None:
                        raise RuntimeError("serve.py did not start") from None
                    time.sleep(0.5)
            idle = memory(service.pid, "VmRSS")
            print(f"serve.py of {options.root} at rest: {idle:.0f} MB resident", flush=True)

            def measured(what: str, send) -> None:
                Path(f"/proc/{service.pid}/clear_refs").write_text("5")  # the high-water mark starts again here
                before = memory(service.pid, "VmRSS")
                started = time.perf_counter()
                status, detail = send()
                seconds = time.perf_counter() - started
                peak = max(memory(service.pid, "VmHWM") - before, 0.0)
                rows.append({"input": what, "status": int(status) if str(status).isdigit() else status,
                             "seconds": round(seconds, 2), "peak_mb": round(peak, 1),
                             "resident_before_mb_over_idle": round(before - idle, 1), "answer": detail})
                print(f"{status}  {seconds:6.2f} s  +{peak:6.0f} MB  {what}: {detail}", flush=True)

            for what, body in SPEECH:
                def speech(body=body):
                    answer = httpx.post(f"{url}/v1/audio/speech", json={**body, "response_format": "wav"}, timeout=600)
                    if answer.status_code == 200:
                        return 200, f"{(len(answer.content) - 44) / 2 / 16000:.1f} s of audio"
                    return answer.status_code, answer.text[:120]

                measured(what, speech)
            announced = b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            measured("an upload announcing 300 MB, no key, no byte sent",
                     lambda: raw_post(port, announced + b"Content-Length: 300000000"))

            def vote():
                answer = httpx.post(f"{url}/v1/ab", headers=auth, timeout=120, json={
                    "text": "ez " * 1_700_000, "a": "kurdish", "b": "tts-1", "winner": "a"})
                return answer.status_code, answer.text[:120]

            measured("a vote of 5 MB of text, a model against itself", vote)
        finally:
            service.kill()
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"root": str(options.root), "idle_mb": round(idle, 1), "inputs": rows},
                                         indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("\n| input | answer | seconds | peak MB over the size before it | size before it, MB over idle |\n"
          "|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['input']} | {row['status']} | {row['seconds']:.2f} | {row['peak_mb']:.0f} | "
              f"{row['resident_before_mb_over_idle']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
