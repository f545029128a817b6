"""The models the service speaks with: the served folders and the model folders beside them,
loaded on first use and swapped in when a feedback round installs a new model."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from kurdish_tts.feedback.names import backup_stamp, rejected_folder
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.synthesis.engines import DECODER_FILE, ENCODER_FILE, LATENTS_FILE, VOCODER_FILE, is_onnx_folder
from kurdish_tts.synthesis.runtimes import EXPORT_RECORD

WEIGHT_FILES = ("model.safetensors", ENCODER_FILE, DECODER_FILE, LATENTS_FILE, VOCODER_FILE)
RUNTIME_KINDS = ("sherpa-onnx", "piper")  # exports for other runtimes: listed, not spoken with
# Folders beside a model that are not models to serve.
NOT_SERVED = ("-discriminator", "-runs")
# Models beside the served ones (backups, variants) kept loaded at once: the least recently asked for goes first,
# so that requests naming every dated backup cannot fill the memory.
KEPT_OTHERS = 2


def weights_hash(folder: Path) -> str:
    """sha256 (first 16 hex digits) of a model folder's weight files: a changed model is another row of votes."""
    digest = hashlib.sha256()
    for name in WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def folder_stamp(folder: Path) -> tuple:
    """What changes when a model folder is replaced (a new inode) or rewritten: cheap to ask every second."""
    try:
        stats = [os.stat(folder)] + [os.stat(folder / name) for name in WEIGHT_FILES if (folder / name).is_file()]
    except FileNotFoundError:
        return ()
    return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)


def runtime_export(folder: Path) -> str | None:
    """The runtime a folder was exported for (sherpa-onnx, piper: its export.json), None otherwise."""
    try:
        return str(json.loads((folder / EXPORT_RECORD).read_text(encoding="utf-8"))["runtime"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def model_kind(folder: Path, served: Path) -> str | None:
    """How `folder` relates to the served model folder `served`: served, onnx, backup, rejected,
    variant, or an export for another runtime (sherpa-onnx, piper: listed, not spoken with here);
    None for what is not a model folder (discriminators, runs, anything without config.json)."""
    if not (folder / "config.json").is_file() or folder.name.endswith(NOT_SERVED) or folder.name.startswith("."):
        return None
    if folder == served:
        return "served"
    if runtime := runtime_export(folder):
        return runtime
    if is_onnx_folder(folder):
        return "onnx"
    if backup_stamp(folder.name, served.name) is not None:
        return "backup"  # a feedback round's dated copy of the model it replaced
    return "rejected" if folder.name == rejected_folder(served).name else "variant"


def model_folders(served: list[Path]) -> dict[str, tuple[Path, str]]:
    """Model id -> (folder, kind): each served folder, and the model folders beside it named after it
    (`kurdish-20261201T120000Z`, `kurdish-onnx`, ...). The id is the folder's name."""
    found: dict[str, tuple[Path, str]] = {}
    for folder in served:
        found.setdefault(folder.name, (folder, "served"))
        for sibling in sorted(folder.parent.glob(f"{folder.name}-*")) if folder.parent.is_dir() else []:
            kind = model_kind(sibling, folder) if sibling.is_dir() else None
            if kind is not None:
                found.setdefault(sibling.name, (sibling, kind))
    return found


@dataclass
class Loaded:
    voice: object
    stamp: tuple
    weights: str


class Shelf:
    """The models the service speaks with, loaded on first use and reloaded when their folder
    changes (a feedback round installs a new model): a request holds the voice it started with, so
    a swap never changes audio half-way."""

    def __init__(self, served: list[Path], load=None, check_every_s: float = 1.0):
        self.served = [Path(p) for p in served]
        self.load = load or self._load_voice
        self.check_every_s = check_every_s
        self.loaded: OrderedDict[str, Loaded] = OrderedDict()  # the most recently asked for last
        self.checked: dict[str, float] = {}
        self.lock = threading.Lock()

    @staticmethod
    def _load_voice(folder: Path):
        from kurdish_tts.synthesis.voice import Voice

        return Voice(folder)

    def listing(self) -> dict[str, tuple[Path, str]]:
        return model_folders(self.served)

    def default_id(self) -> str:
        return self.served[0].name

    def get(self, model_id: str | None) -> tuple[str, Loaded]:
        """(model id, the loaded model) for `model_id` (None or "" or an OpenAI name: the first --model)."""
        listing = self.listing()
        if not model_id or model_id not in listing and model_id.startswith(("tts-", "gpt-")):
            model_id = self.default_id()  # the OpenAI SDK's own model names mean "the service's voice"
        if model_id not in listing:
            raise ServiceError(404, f"model {model_id[:40]!r} is not served: GET /v1/models lists the ids")
        folder, kind = listing[model_id]
        if kind in RUNTIME_KINDS:
            raise ServiceError(422, f"model {model_id[:40]!r} is a voice exported for {kind}: the service speaks with "
                                    f"the others GET /v1/models lists")
        with self.lock:
            now = time.monotonic()
            current = self.loaded.get(model_id)
            if current is not None:
                self.loaded.move_to_end(model_id)
            if current is not None and now - self.checked.get(model_id, 0.0) < self.check_every_s:
                return model_id, current
            self.checked[model_id] = now
            stamp = folder_stamp(folder)
            if current is None or stamp != current.stamp:
                current = Loaded(self.load(folder), stamp, weights_hash(folder))
                self.loaded[model_id] = current
                self._forget_others()
            return model_id, current

    def _forget_others(self) -> None:
        """Unload the least recently used models beyond KEPT_OTHERS that are not served (a request
        speaking with one keeps it until it ends)."""
        served = {folder.name for folder in self.served}
        others = [model_id for model_id in self.loaded if model_id not in served]
        for model_id in others[: max(0, len(others) - KEPT_OTHERS)]:
            del self.loaded[model_id]
            self.checked.pop(model_id, None)
