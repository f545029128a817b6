"""Sounds that do not speak, to put every score of a voice beside: white noise and a harmonic buzz.

A distance or an error rate means something only next to what a non-voice scores on it. Both
references take their loudness from a real clip, so that only the missing speech tells them apart:

    noise_like(audio, rng)   white noise with the clip's RMS
    buzz_like(audio, rate)   a steady 120 Hz harmonic comb (a drone with a line at 4 kHz, like an
                             untrained decoder's output) whose loudness follows the clip's envelope
"""

from __future__ import annotations

import numpy as np

BUZZ_F0 = 120.0  # Hz
BUZZ_LINE = 4000.0  # Hz: the extra spectral line an early HiFi-GAN draws at a quarter of 16 kHz


def noise_like(audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    return (rng.standard_normal(len(audio)) * rms).astype(np.float32)


def buzz_like(audio: np.ndarray, rate: int) -> np.ndarray:
    t = np.arange(len(audio)) / rate
    harmonics = np.arange(1, int(rate / 2 / BUZZ_F0))
    comb = np.sin(2 * np.pi * BUZZ_F0 * np.outer(t, harmonics)) @ (1.0 / harmonics)
    comb += 0.5 * np.sin(2 * np.pi * BUZZ_LINE * t)
    hop = rate // 100  # the clip's loudness every 10 ms, held
    frames = np.sqrt(np.convolve(audio.astype(np.float64) ** 2, np.ones(hop) / hop, mode="same"))
    buzz = comb / np.sqrt(np.mean(comb**2)) * frames
    return (buzz / max(1.0, float(np.abs(buzz).max()))).astype(np.float32)
