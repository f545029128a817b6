"""Audio decoding and cleaning, shared by data preparation and feedback intake.

Audio is decoded from raw bytes with soundfile (mp3, wav, flac, ogg), never through
`datasets`' Audio feature (it needs torchcodec, which does not work here). Every clip
goes through the same steps: decode, downmix, resample, trim silence, check duration,
set loudness. A clip that cannot be used raises `ClipRejected` with a short reason that
callers count.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

TARGET_SR = 16_000
SILENCE_PEAK = 10 ** (-60 / 20)  # a clip whose loudest sample is below -60 dBFS holds no speech
PEAK_TARGET_DB = -1.0  # peak normalisation target, dBFS
RMS_TARGET_DB = -20.0  # RMS normalisation target, dBFS
PEAK_CEILING = 10 ** (-0.1 / 20)  # never scale a sample above -0.1 dBFS: no clipping in 16-bit


class ClipRejected(ValueError):
    """A clip that cannot be used; `reason` is a short key used for counting ("too short", ...)."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class CleaningSettings:
    target_sr: int = TARGET_SR
    trim_db: float = 40.0  # trim leading/trailing audio quieter than this many dB below the peak
    min_duration: float = 1.0  # seconds, after trimming
    max_duration: float = 15.0
    normalize: str = "peak"  # peak | rms | none


def decode(data: bytes | Path) -> tuple[np.ndarray, int]:
    """Encoded bytes, or a file, in any format soundfile reads -> (float32 [samples, channels], sample rate).

    A file is read by libsndfile directly, which is much faster than through a Python file object;
    one that cannot be opened (permissions, a folder) raises `OSError`.
    """
    if isinstance(data, bytes) and not data or isinstance(data, Path) and data.stat().st_size == 0:
        raise ClipRejected("empty file")
    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
        audio, rate = sf.read(source, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        if isinstance(data, Path):  # libsndfile does not say why it cannot open a file; this raises the OSError that does
            with open(data, "rb"):
                pass
        detail = str(e).splitlines()[0].rsplit(": ", 1)[-1] if str(e) else ""  # drop "Error opening <...>"
        raise ClipRejected("undecodable audio", detail) from e
    if audio.size == 0:
        raise ClipRejected("zero-length audio")
    if not np.isfinite(audio).all():
        raise ClipRejected("non-finite samples")
    return audio, rate


def to_mono(audio: np.ndarray) -> np.ndarray:
    """[samples, channels] -> [samples] by averaging the channels."""
    if audio.ndim == 1:
        return audio
    return audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1)


def resample(audio: np.ndarray, rate: int, target_sr: int) -> np.ndarray:
    """High-quality (soxr) resampling of a mono float signal."""
    if rate == target_sr:
        return audio
    return librosa.resample(audio, orig_sr=rate, target_sr=target_sr, res_type="soxr_hq").astype(np.float32)


def load_resampler() -> None:
    """Import librosa's lazily loaded parts now (about 2 s), so that forked workers share them."""
    librosa.resample  # noqa: B018  (attribute access triggers the lazy import)
    librosa.effects.trim  # noqa: B018


def trim_silence(audio: np.ndarray, top_db: float) -> np.ndarray:
    """Cut leading and trailing audio more than `top_db` below the clip's peak."""
    trimmed, _ = librosa.effects.trim(audio, top_db=top_db, frame_length=1024, hop_length=256)
    return trimmed


def set_loudness(audio: np.ndarray, mode: str) -> np.ndarray:
    """Scale to the peak or RMS target; the gain is capped so that no sample clips."""
    peak = float(np.abs(audio).max())
    if mode == "none" or peak == 0.0:
        return audio
    if mode == "peak":
        gain = 10 ** (PEAK_TARGET_DB / 20) / peak
    elif mode == "rms":
        rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
        gain = 10 ** (RMS_TARGET_DB / 20) / rms
    else:
        raise ValueError(f"unknown loudness normalisation {mode!r}: use peak, rms or none")
    gain = min(gain, PEAK_CEILING / peak)
    return (audio * gain).astype(np.float32)


def clean(data: bytes | Path, settings: CleaningSettings) -> np.ndarray:
    """Decode and clean one clip: float32 mono at `settings.target_sr`, or `ClipRejected`."""
    return clean_decoded(*decode(data), settings)


def clean_decoded(audio: np.ndarray, rate: int, settings: CleaningSettings) -> np.ndarray:
    """Clean decoded audio ([samples, channels] at `rate`); see `clean`."""
    audio = resample(to_mono(audio), rate, settings.target_sr)
    if audio.size == 0 or float(np.abs(audio).max()) < SILENCE_PEAK:
        raise ClipRejected("silent")
    audio = trim_silence(audio, settings.trim_db)
    seconds = audio.size / settings.target_sr
    if seconds < settings.min_duration:
        raise ClipRejected("too short", f"{seconds:.2f} s")
    if seconds > settings.max_duration:
        raise ClipRejected("too long", f"{seconds:.2f} s")
    return set_loudness(audio, settings.normalize)


def encode_wav(audio: np.ndarray, rate: int) -> bytes:
    """Float mono -> bytes of a 16-bit PCM wav."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write a 16-bit PCM wav atomically (a temporary file renamed into place): a killed run never
    leaves half a file at `path`. No fsync: a clip lost to a power cut is rebuilt by a re-run."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sf.write(tmp, audio, rate, format="WAV", subtype="PCM_16")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
