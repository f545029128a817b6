"""The pieces of the voice service (`serve.py`) that are not HTTP: the served models and their hot
swap, audio encodings, access keys, request limits and A/B votes.

    <data_dir>/service/keys.json   key name -> sha256 of the key (the key itself is shown once)
    <data_dir>/service/ab.jsonl    one listening vote a line, with both models' weight hashes
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import io
import json
import math
import os
import secrets
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kurdish_tts.files import locked, write_text_atomic
from kurdish_tts.synthesis.engines import DECODER_FILE, ENCODER_FILE, is_onnx_folder

SERVICE_DIR = "service"
KEYS_FILE = "keys.json"
VOTES_FILE = "ab.jsonl"
WEIGHT_FILES = ("model.safetensors", ENCODER_FILE, DECODER_FILE)
# Folders beside a model that are not models to serve.
NOT_SERVED = ("-discriminator", "-runs")
# response_format -> (soundfile format, subtype, media type); wav and pcm are written here, sentence by sentence.
ENCODINGS = {"flac": ("FLAC", "PCM_16", "audio/flac"), "mp3": ("MP3", None, "audio/mpeg"),
             "opus": ("OGG", "OPUS", "audio/ogg")}
STREAMED = {"wav": "audio/wav", "pcm": "audio/pcm"}
FORMATS = tuple(STREAMED) + tuple(ENCODINGS)


class ServiceError(ValueError):
    """A request or a setting the service refuses: `status` is the HTTP status, the message one line."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


# --- audio -------------------------------------------------------------------------------------

def pcm16(audio: np.ndarray) -> bytes:
    """float32 samples in [-1, 1] -> 16-bit little-endian PCM."""
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def wav_header(rate: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte RIFF header for 16-bit mono PCM. Without `data_bytes` (a stream of unknown length)
    both sizes are 0xFFFFFFFF, which players read as "until the end of the stream"."""
    data = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
            + b"data" + struct.pack("<I", data))


def encode_whole(audio: np.ndarray, rate: int, response_format: str) -> bytes:
    """One utterance in a format that cannot be joined from pieces: flac, mp3 or opus."""
    import soundfile as sf

    kind, subtype, _ = ENCODINGS[response_format]
    if response_format == "opus" and rate not in (8000, 12000, 16000, 24000, 48000):
        raise ServiceError(422, f"opus needs a rate of 8, 12, 16, 24 or 48 kHz; this model speaks at {rate} Hz")
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=kind, subtype=subtype)
    return buffer.getvalue()


def media_type(response_format: str) -> str:
    return STREAMED.get(response_format) or ENCODINGS[response_format][2]


# --- models ------------------------------------------------------------------------------------

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


def model_kind(folder: Path, served: Path) -> str | None:
    """How `folder` relates to the served model folder `served`: served, onnx, backup, rejected,
    variant; None for what is not a model folder (discriminators, runs, anything without config.json)."""
    if not (folder / "config.json").is_file() or folder.name.endswith(NOT_SERVED) or folder.name.startswith("."):
        return None
    if folder == served:
        return "served"
    if is_onnx_folder(folder):
        return "onnx"
    rest = folder.name[len(served.name) + 1:]
    if rest[:1].isdigit():
        return "backup"  # a feedback round's dated copy of the model it replaced
    return "rejected" if rest == "rejected" else "variant"


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
        self.loaded: dict[str, Loaded] = {}
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
            raise ServiceError(404, f"model {model_id!r} is not served: GET /v1/models lists the ids")
        folder = listing[model_id][0]
        with self.lock:
            now = time.monotonic()
            current = self.loaded.get(model_id)
            if current is not None and now - self.checked.get(model_id, 0.0) < self.check_every_s:
                return model_id, current
            self.checked[model_id] = now
            stamp = folder_stamp(folder)
            if current is None or stamp != current.stamp:
                current = Loaded(self.load(folder), stamp, weights_hash(folder))
                self.loaded[model_id] = current
            return model_id, current


# --- keys, limits, votes -------------------------------------------------------------------------

def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Keys:
    """Access keys for the service's writes; only their sha256 is kept."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / SERVICE_DIR
        self.path = self.folder / KEYS_FILE

    def read(self) -> dict[str, str]:
        return json.loads(self.path.read_text(encoding="utf-8")) if self.path.is_file() else {}

    def add(self, name: str) -> str:
        if not name or not name.replace("-", "").replace("_", "").isalnum():
            raise ServiceError(400, f"key name {name!r}: use letters, digits, '-' and '_'")
        key = secrets.token_urlsafe(32)
        with locked(self.folder / ".lock"):
            keys = self.read()
            if name in keys:
                raise ServiceError(409, f"a key named {name!r} exists: --remove_key it first or pick another name")
            keys[name] = key_digest(key)
            write_text_atomic(self.path, json.dumps(keys, indent=1))
        return key

    def remove(self, name: str) -> None:
        with locked(self.folder / ".lock"):
            keys = self.read()
            if name not in keys:
                raise ServiceError(404, f"no key named {name!r}")
            del keys[name]
            write_text_atomic(self.path, json.dumps(keys, indent=1))

    def owner(self, key: str) -> str | None:
        """The name of the key `key`, compared in constant time against every stored digest."""
        digest = key_digest(key)
        found = None
        for name, stored in self.read().items():
            if hmac.compare_digest(digest, stored):
                found = name
        return found


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


def wilson(wins: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default); ties count half a win."""
    if count == 0:
        return 0.0, 1.0
    p = wins / count
    centre = (p + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(p * (1 - p) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


class Votes:
    """A/B listening votes, one JSON line each, appended under a lock."""

    def __init__(self, data_dir: Path):
        self.folder = Path(data_dir) / SERVICE_DIR
        self.path = self.folder / VOTES_FILE

    def add(self, vote: dict) -> None:
        line = json.dumps(vote, ensure_ascii=False) + "\n"
        with locked(self.folder / ".lock"), open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[dict]:
        if not self.path.is_file():
            return []
        votes = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                votes.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a crash: the others count
                continue
        return votes

    def summary(self) -> list[dict]:
        """Win rates per pair of (model, weights): the pair in a fixed order, ties half a win each."""
        rows: dict[tuple, dict] = {}
        for vote in self.read():
            a, b = (vote["a"], vote["a_weights"]), (vote["b"], vote["b_weights"])
            first, second = sorted([a, b])
            row = rows.setdefault((first, second), {"a": first[0], "a_weights": first[1], "b": second[0],
                                                    "b_weights": second[1], "count": 0, "a_wins": 0.0, "ties": 0})
            row["count"] += 1
            if vote["winner"] == "tie":
                row["ties"] += 1
                row["a_wins"] += 0.5
            elif (vote["winner"] == "a") == (a == first):
                row["a_wins"] += 1.0
        for row in rows.values():
            low, high = wilson(row["a_wins"], row["count"])
            row.update(a_win_rate=row["a_wins"] / row["count"], a_win_rate_95=[round(low, 4), round(high, 4)])
        return list(rows.values())
