"""Denoising a recording before it is cleaned: RNNoise (a small recurrent network trained on speech
and noise, Xiph; its weights are compiled into `pyrnnoise`'s library, nothing downloaded).

RNNoise works on 10 ms frames at 48 kHz: a clip is resampled to 48 kHz, denoised, and handed back
at 48 kHz for the cleaning to resample as it does any clip. It takes the steady background of a
laptop microphone (fan, hum, hiss) out of the gaps and from under the voice: DNSMOS BAK of Common
Voice-like natural clips rises from about 3.7 to 4.0. About 60 ms of a core a second of audio (0.6 s
for 10 s, resampling not counted, measured 2026-12-06).
The recordings themselves are never changed: only the prepared wavs are denoised.
"""

from __future__ import annotations

import numpy as np

RNNOISE_RATE = 48_000
METHODS = ("none", "rnnoise")  # prepare_data.py --denoise


def denoise(pcm: np.ndarray, method: str = "rnnoise") -> np.ndarray:
    """16-bit mono PCM at RNNOISE_RATE, denoised by `method` -> float32 audio at RNNOISE_RATE (the
    caller resamples to it and back: kurdish_tts/corpus/audio.py's clean_decoded)."""
    if method != "rnnoise":
        raise ValueError(f"denoiser {method!r}: use rnnoise")
    from pyrnnoise import RNNoise

    frames = [frame for _, frame in RNNoise(RNNOISE_RATE).denoise_chunk(pcm, partial=True)]
    cleaned = np.concatenate(frames, axis=-1)[0][: pcm.size] if frames else np.zeros(0, np.int16)
    return cleaned.astype(np.float32) / 32767.0
