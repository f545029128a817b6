"""Speech-like signals with known properties, and their encodings: clips for tests and benchmarks
that need audio without a voice."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf


def speech_like(seconds: float, rate: int = 16000, seed: int = 0, pad: float = 0.4, pitch: float = 140.0) -> np.ndarray:
    """A voiced, syllable-modulated tone of `seconds` with `pad` s of faint noise at both ends."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = pitch * (1 + 0.1 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    syllables = 0.5 * (1 - np.cos(2 * np.pi * 4 * t)) ** 2
    signal = 0.3 * voiced * syllables + 0.005 * rng.standard_normal(t.size)
    edge = 0.0005 * rng.standard_normal(int(pad * rate))
    return np.concatenate([edge, signal, edge]).astype(np.float32)


def encode(audio: np.ndarray, rate: int, fmt: str = "MP3", subtype: str | None = None) -> bytes:
    """`audio` as the bytes of a file in `fmt` (MP3, WAV, FLAC, OGG), as an upload or a dataset holds it."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()
