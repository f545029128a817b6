"""Audio decoding and cleaning, shared by data preparation and feedback intake.

Audio is decoded from raw bytes with soundfile (mp3, wav, flac, ogg), never through
`datasets`' Audio feature (it needs torchcodec, which does not work here). Every clip
goes through the same steps: decode, downmix, resample, trim silence, check duration,
set loudness. A clip that cannot be used raises `ClipRejected` with a short reason that
callers count.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from kurdish_tts.files import write_bytes_atomic

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
    trim_floor_db: float = 10.0  # ... or within this many dB of the clip's noise floor (0: the peak rule alone)
    min_duration: float = 1.0  # seconds, after trimming
    max_duration: float = 15.0
    normalize: str = "peak"  # peak | rms | none
    denoise: str = "none"  # none | rnnoise (kurdish_tts/corpus/denoising.py), before anything else

    @classmethod
    def from_arguments(cls, arguments: dict) -> CleaningSettings:
        """From prepare_data.py's arguments (or those recorded in a dataset.json); missing ones default."""
        names = [f.name for f in fields(cls)]
        return cls(**{name: arguments[name] for name in names if arguments.get(name) is not None})


MAX_CHANNELS = 8
# A recording, before trimming, may last this many times --max_duration: longer is refused from its header
# (a clip of silence and speech, not an hour whose decoding would take gigabytes of a worker's memory).
RAW_SECONDS_PER_LIMIT = 4


def check_recorded_length(seconds: float, max_seconds: float) -> None:
    """ClipRejected ("too long") for a recording, before trimming, longer than `max_seconds`."""
    if seconds > max_seconds:
        raise ClipRejected("too long", f"{seconds:.0f} s as recorded (at most {max_seconds:g})")


def decode(data: bytes | Path, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Encoded bytes, or a file, in any format soundfile reads -> (float32 [samples, channels], sample rate).

    A file is read by libsndfile directly, which is much faster than through a Python file object;
    one that cannot be opened (permissions, a folder) raises `OSError`. With `max_seconds`, audio
    whose header says it is longer is refused ("too long") before a sample is decoded: a few
    megabytes of compressed silence can hold hours, gigabytes once decoded.
    """
    if isinstance(data, bytes) and not data or isinstance(data, Path) and data.stat().st_size == 0:
        raise ClipRejected("empty file")
    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else str(data)
        with sf.SoundFile(source) as handle:
            if handle.channels > MAX_CHANNELS:
                raise ClipRejected("undecodable audio", f"{handle.channels} channels (at most {MAX_CHANNELS})")
            if max_seconds is not None:
                check_recorded_length(handle.frames / handle.samplerate, max_seconds)
            audio, rate = handle.read(dtype="float32", always_2d=True), handle.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        if isinstance(data, Path):
            # libsndfile says "File does not exist or is not a regular file" for any file it cannot open:
            # reading the file raises the OSError that says why, and decoding its bytes names the real problem
            return decode(data.read_bytes(), max_seconds)
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
    """High-quality resampling of a mono float signal: soxr's HQ setting, as librosa's "soxr_hq", called
    directly (librosa's checks of the signal cost a fifth as much again)."""
    if rate == target_sr:
        return audio
    return soxr.resample(audio, rate, target_sr, quality="HQ").astype(np.float32, copy=False)


TRIM_FRAME, TRIM_HOP = 1024, 256  # samples: the loudness of a 64 ms frame every 16 ms (at 16 kHz)


TRIM_FLOOR_PERCENTILE = 5  # a clip's noise floor: the loudness of its quietest 5 % of frames
TRIM_FLOOR_MARGIN = 6  # frames (96 ms at 16 kHz) kept beyond the speech the floor rule finds: soft onsets


def trim_silence(audio: np.ndarray, top_db: float, floor_db: float = 0.0) -> np.ndarray:
    """Cut leading and trailing audio more than `top_db` below the clip's loudest frame, and, with
    `floor_db`, within `floor_db` of its noise floor (Common Voice's clips open and close on a second of
    room noise 15-35 dB under the voice, which the peak rule keeps), plus a margin for soft onsets.

    The rule of `librosa.effects.trim(audio, top_db, frame_length=1024, hop_length=256)`: the mean
    square of centred 1024-sample frames every 256 samples, the edges zero-padded. A frame is four
    256-sample blocks, so its energy is a difference of running sums over blocks: one pass over
    the samples, a third of librosa's time (the tests check both cut at the same samples)."""
    padded = np.zeros((-(-audio.size // TRIM_HOP) + 4) * TRIM_HOP, dtype=np.float32)
    padded[2 * TRIM_HOP:2 * TRIM_HOP + audio.size] = audio  # two blocks of zeros before: frame 0 is centred on sample 0
    block_energy = np.square(padded).reshape(-1, TRIM_HOP).sum(axis=1, dtype=np.float64)
    running = np.concatenate(([0.0], np.cumsum(block_energy)))
    frames = 1 + audio.size // TRIM_HOP
    mean_square = np.maximum((running[4:4 + frames] - running[:frames]) / TRIM_FRAME, 1e-10)
    threshold, margin = mean_square.max() * 10 ** (-top_db / 10), 0
    if floor_db > 0:
        floor = np.percentile(mean_square, TRIM_FLOOR_PERCENTILE)  # never above halfway (in dB) to the peak:
        above_floor = min(floor * 10 ** (floor_db / 10), np.sqrt(floor * mean_square.max()))  # noise-drowned clips
        if above_floor > threshold:
            threshold, margin = above_floor, TRIM_FLOOR_MARGIN
    loud = np.flatnonzero(mean_square > threshold)
    if loud.size == 0:
        return audio[:0]
    return audio[max(0, loud[0] - margin) * TRIM_HOP:min(audio.size, (loud[-1] + 1 + margin) * TRIM_HOP)]


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


# What a recorded correction (a donation) must pass beyond the base data's cleaning: the figures of
# voice-donation services for MMS Kurmanji (1-15 s come from the cleaning's duration limits).
CLIP_LEVEL = 0.999  # a sample this close to full scale is clipped
MAX_CLIPPED = 0.002  # at most 0.2 % of the samples clipped
MIN_RMS_DB = -42.0  # the speech's RMS, dBFS, before any normalisation
MIN_LETTERS_PER_SECOND, MAX_LETTERS_PER_SECOND = 3.0, 28.0


def check_donation(decoded: np.ndarray, rate: int, letters: int, top_db: float, floor_db: float = 0.0) -> None:
    """Raise `ClipRejected` when a recorded correction is clipped, too quiet, or its text cannot be what
    it says (`letters` of spoken text over the trimmed speech, in letters a second): `decoded` is the
    upload as decoded ([samples, channels] at `rate`), before any cleaning."""
    clipped = float(np.mean(np.abs(decoded).max(axis=1) >= CLIP_LEVEL))
    if clipped > MAX_CLIPPED:
        raise ClipRejected("clipped", f"{clipped:.1%} of the samples are at full scale (at most {MAX_CLIPPED:.1%}): "
                                      "record with the input gain lower")
    speech = trim_silence(to_mono(decoded), top_db, floor_db)
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if speech.size else 0.0
    rms_db = 20 * np.log10(max(rms, 1e-10))
    if rms_db < MIN_RMS_DB:
        raise ClipRejected("too quiet", f"the speech is at {rms_db:.0f} dBFS RMS (at least {MIN_RMS_DB:.0f}): "
                                        "record closer to the microphone or with more gain")
    seconds = speech.size / rate
    pace = letters / seconds
    if pace < MIN_LETTERS_PER_SECOND:
        raise ClipRejected("too slow", f"{letters} letters in {seconds:.1f} s of speech is {pace:.1f} a second (at "
                                       f"least {MIN_LETTERS_PER_SECOND:g}): give the text of everything the recording says")
    if pace > MAX_LETTERS_PER_SECOND:
        raise ClipRejected("too fast", f"{letters} letters in {seconds:.1f} s of speech is {pace:.0f} a second (at most "
                                       f"{MAX_LETTERS_PER_SECOND:g}): does the recording say all of the text?")


def clean(data: bytes | Path, settings: CleaningSettings) -> np.ndarray:
    """Decode and clean one clip: float32 mono at `settings.target_sr`, or `ClipRejected`."""
    return clean_decoded(*decode(data), settings)


def clean_decoded(audio: np.ndarray, rate: int, settings: CleaningSettings) -> np.ndarray:
    """Clean decoded audio ([samples, channels] at `rate`); see `clean`."""
    audio = to_mono(audio)
    if settings.denoise != "none":
        from kurdish_tts.corpus.denoising import RNNOISE_RATE, denoise

        audio, rate = denoise(to_pcm16(resample(audio, rate, RNNOISE_RATE)), settings.denoise), RNNOISE_RATE
    audio = resample(audio, rate, settings.target_sr)
    if audio.size == 0 or float(np.abs(audio).max()) < SILENCE_PEAK:
        raise ClipRejected("silent")
    audio = trim_silence(audio, settings.trim_db, settings.trim_floor_db)
    check_duration(audio.size / settings.target_sr, settings)
    return set_loudness(audio, settings.normalize)


def check_duration(seconds: float, settings: CleaningSettings) -> None:
    """Raise `ClipRejected` when trimmed audio of `seconds` lies outside the settings' duration limits."""
    if seconds < settings.min_duration:
        raise ClipRejected("too short", f"{seconds:.2f} s")
    if seconds > settings.max_duration:
        raise ClipRejected("too long", f"{seconds:.2f} s")


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] -> 16-bit integers, rounded; anything beyond full scale is clipped."""
    return np.clip(np.rint(audio * 32767.0), -32768, 32767).astype(np.int16)


def encode_wav(audio: np.ndarray, rate: int) -> bytes:
    """Float mono -> bytes of a 16-bit PCM wav.

    The samples are converted in NumPy and handed to soundfile as integers: libsndfile's own
    float conversion makes encoding five times slower."""
    buffer = io.BytesIO()
    sf.write(buffer, to_pcm16(audio), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    """Write a 16-bit PCM wav atomically (encoded in memory, written to a temporary file, renamed
    into place): a killed run never leaves half a file at `path`. No fsync: a clip lost to a power
    cut is rebuilt by a re-run."""
    write_bytes_atomic(Path(path), encode_wav(audio, rate), fsync=False)
