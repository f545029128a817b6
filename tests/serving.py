"""What the service's tests share: serve.py's app under uvicorn on a loopback port, a workspace
with the stand-in as the served model, keys made as an operator makes them."""

from __future__ import annotations

from pathlib import Path

from helpers import ROOT

import serve
from kurdish_tts.samples.server import running
from kurdish_tts.serving.app import uvicorn_options
from kurdish_tts.serving.shelf import Shelf

STANDIN = ROOT / "data" / "pretrained" / "model"


class Server:
    """serve.py's app under uvicorn in a thread, on a free loopback port (kurdish_tts.samples.server)."""

    def __init__(self, workspace: Path, *extra: str, check_every_s: float = 0.0, load=None):
        self.args = serve.build_parser().parse_args(["--model", str(workspace / "models" / "kurdish"), "--data_dir",
                                                     str(workspace / "training"), *extra])
        self.app = serve.create_app(self.args, Shelf(self.args.model, load=load, check_every_s=check_every_s))

    def __enter__(self):
        self.running = running(self.app, **uvicorn_options(self.args))
        self.url = self.running.__enter__()
        return self

    def __exit__(self, *exc):
        return self.running.__exit__(*exc)


def add_key(workspace: Path, name: str, capsys, *extra: str) -> str:
    assert serve.main(["--data_dir", str(workspace / "training"), "--add_key", name, *extra]) == 0
    return capsys.readouterr().out.strip().splitlines()[-1]


def left_behind(data_dir: Path) -> list[str]:
    """Files under a training folder other than the service's keys, votes and lock files and the
    feedback store's records: what a request may have left."""
    kept = {"keys.json", "ab.jsonl", ".lock", ".round-lock", "entries.json", "metadata.csv"}
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file() and p.name not in kept
                  and not (p.parent.name == "wavs" and p.suffix == ".wav" and not p.name.startswith(".")))
