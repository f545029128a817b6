"""Recording conditions like Common Voice's: a clean voice as a volunteer's laptop would record it.

Every part is generated here, nothing is downloaded: a room (a synthetic impulse response,
exponentially decaying noise with a direct path, reverberation time drawn per clip), a
microphone's band (a band-pass filter), background noise (coloured noise, sometimes mains hum)
at a signal-to-noise ratio drawn from a range, an uneven level, and noise-floor silence before and
after the speech. The draws come from the generator passed in: the same seed, the same clip.
Common Voice keeps clips as mp3 at 32, 44.1 or 48 kHz: `RATES`, and `kurdish_tts.samples.signals.encode`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal as dsp

RATES = (32_000, 44_100, 48_000)


@dataclass(frozen=True)
class Conditions:
    """The ranges each clip's conditions are drawn from."""

    snr_db: tuple[float, float] = (15.0, 35.0)  # speech power over noise power
    reverb_s: tuple[float, float] = (0.1, 0.4)  # RT60, the time reverberation takes to fall 60 dB
    wet: tuple[float, float] = (0.05, 0.3)  # the reverberant part's share of the signal
    low_hz: tuple[float, float] = (70.0, 200.0)  # the microphone's band
    high_hz: tuple[float, float] = (5_000.0, 7_500.0)
    level_db: tuple[float, float] = (-18.0, -3.0)  # the speech's peak, dBFS
    silence_s: tuple[float, float] = (0.3, 1.5)  # before and after the speech, each
    hum: float = 0.3  # the share of clips with mains hum (50 or 60 Hz and its harmonics)


@dataclass(frozen=True)
class Drawn:
    """What one clip got: for the record beside it, and for tests."""

    snr_db: float
    reverb_s: float
    low_hz: float
    high_hz: float
    level_db: float


def room_response(rate: int, reverb_s: float, rng: np.random.Generator) -> np.ndarray:
    """A direct path, then noise falling by 60 dB over `reverb_s` seconds."""
    length = int(rate * reverb_s)
    t = np.arange(length) / rate
    tail = rng.standard_normal(length) * np.exp(-6.9 * t / reverb_s)  # ln(1000) = 6.9: -60 dB at reverb_s
    tail[: int(0.003 * rate)] = 0.0  # the first reflections come after a few milliseconds
    tail /= np.sqrt(np.sum(tail**2)) + 1e-12
    tail[0] = 1.0  # the direct path, as loud as all the reflections together
    return tail


def coloured_noise(samples: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose spectrum falls as 1/f^alpha (alpha drawn between white and brown): fans, rooms, streets."""
    alpha = rng.uniform(0.0, 2.0)
    spectrum = np.fft.rfft(rng.standard_normal(samples))
    frequencies = np.fft.rfftfreq(samples, 1 / rate)
    spectrum *= 1 / np.maximum(frequencies, 20.0) ** (alpha / 2)
    noise = np.fft.irfft(spectrum, samples)
    return noise / (np.std(noise) + 1e-12)


def power(audio: np.ndarray) -> float:
    return float(np.mean(audio.astype(np.float64) ** 2))


def record(clean: np.ndarray, rate: int, rng: np.random.Generator,
           conditions: Conditions | None = None) -> tuple[np.ndarray, Drawn]:
    """`clean` (float mono at `rate`) as recorded in conditions drawn from `conditions`:
    (the recording, float32 within [-1, 1]; what was drawn)."""
    conditions = conditions or Conditions()
    drawn = Drawn(*(float(rng.uniform(*r)) for r in (conditions.snr_db, conditions.reverb_s, conditions.low_hz,
                                                   conditions.high_hz, conditions.level_db)))
    wet = rng.uniform(*conditions.wet)
    reverberant = dsp.fftconvolve(clean, room_response(rate, drawn.reverb_s, rng))[: clean.size]
    speech = (1 - wet) * clean + wet * reverberant * np.sqrt(power(clean) / (power(reverberant) + 1e-12))
    band = dsp.butter(4, [drawn.low_hz, min(drawn.high_hz, 0.45 * rate)], btype="bandpass", fs=rate, output="sos")
    speech = dsp.sosfilt(band, speech)
    pad = [int(rate * rng.uniform(*conditions.silence_s)) for _ in range(2)]
    speech = np.concatenate([np.zeros(pad[0]), speech, np.zeros(pad[1])])
    noise = coloured_noise(speech.size, rate, rng)
    if rng.random() < conditions.hum:
        t = np.arange(speech.size) / rate
        mains = rng.choice([50.0, 60.0])
        noise += sum(np.sin(2 * np.pi * k * mains * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3))
    speech_power = power(speech[pad[0]: speech.size - pad[1]])
    noise *= np.sqrt(speech_power / (power(noise) * 10 ** (drawn.snr_db / 10)))
    mixed = speech + noise
    peak = np.abs(speech).max() + 1e-12  # the level is the speech's, as a person speaks louder or softer
    mixed *= 10 ** (drawn.level_db / 20) / peak
    return np.clip(mixed, -1.0, 1.0).astype(np.float32), drawn


def measured_snr(recording: np.ndarray, clean_part: slice, silence: slice) -> float:
    """The SNR a recording shows: the power where speech is, less the noise floor, over the power of
    a stretch of silence (the noise alone), in dB."""
    noise = power(recording[silence])
    return 10 * np.log10(max(power(recording[clean_part]) - noise, 1e-12) / (noise + 1e-12))
