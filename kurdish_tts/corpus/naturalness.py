"""How natural and clean a clip sounds: Microsoft's DNSMOS (the `speechmos` package, its ONNX models
inside the wheel), a predicted mean opinion score from 1 (bad) to 5 (excellent). One function,
`dnsmos(audio, rate)`, for data preparation (prepare_data.py --min_dnsmos) and for evaluation
(synthesize.py --evaluate, training's periodic evaluation; kurdish_tts.scoring imports it from here).

    ovrl   overall quality (ITU-T P.835 OVRL): the figure to read
    sig    quality of the speech itself (P.835 SIG)
    bak    quietness of the background (P.835 BAK): 5 is no noise
    p808   overall quality by the older P.808 model

OVRL measured here (2026-12): white noise 1.1, a 120 Hz buzz 1.25-1.55, near-silence 1.8-2.2,
espeak-ng Kurmanji 2.3-2.7 (`ku` 2.66), natural speech 3.0-3.3 (about 3.1 with reverb, a telephone
band and noise at 20-30 dB SNR added; the corpus speakers as Common Voice records them, prepared, 2.55-2.85). Published: LJSpeech 3.30, VCTK 3.20, in-the-wild corpora
2.4-2.5; Emilia keeps clips with OVRL >= 3.0. Below about 2.2 it cannot rank voices, and it predicts
quality, not intelligibility: read it beside the judge's CER.

Noise against OVRL and BAK, measured here on ten natural Kurmanji clips (Kokoro, 2-6 s) with white
noise added: clean OVRL 3.17 +- 0.18, BAK 4.12 +- 0.06; at 30 dB SNR OVRL 2.63 (the two sets
overlap), BAK 3.14 (apart); at 20 dB OVRL 2.32, BAK 2.49; at 0 dB OVRL 1.54, BAK 1.47. BAK tells
noisy from clean better (its clean clips scatter a third as much), but it rates a steady buzz or a
speech-like tone as clean (4.0): OVRL is the one that also falls for sounds that do not speak.

DNSMOS scores 9.01 s windows. A shorter clip is repeated here to fill exactly one window: speechmos
doubles it until it fills and averages 1 s hops, which scores 2-6 s clips the same within 0.04 OVRL
and costs 2 to 7 windows instead of one. A longer clip costs a window more for every second beyond
9 s. Cost here (2 shared cores, 2026-12): a window 0.16-0.25 s of one core, so any clip up to 9 s
0.16-0.25 s (0.04-0.08 s a second of audio for Common Voice's 3-6 s clips), a 16 s clip 1.4 s (0.09 s
a second); the first call in a process 1.4 s more (speechmos's imports and the two ONNX models).
bench/bench_prepare.py times it inside data preparation (BENCHMARKS.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kurdish_tts.corpus.audio import resample, to_mono

RATE = 16_000  # the only rate DNSMOS takes
WINDOW = int(9.01 * RATE)  # samples DNSMOS scores at once
MIN_SECONDS = 0.25  # shorter than a syllable: repeated to 9 s it is a drone, not speech
MEASURES = ("ovrl", "sig", "bak", "p808")
# OVRL of known sounds, to print beside a voice's (measured here, 2026-12)
CALIBRATION = ("white noise 1.1, a buzz 1.25-1.55, near-silence 1.8-2.2, espeak-ng 2.3-2.7, natural speech 3.0-3.3 "
               "(recorded as Common Voice records, 2.55-2.85); below about 2.2 it cannot rank voices")

_loaded: tuple[int, object] | None = None  # (process id, model): a forked worker loads its own


class UnscorableAudio(ValueError):
    """Audio DNSMOS cannot score: empty, shorter than MIN_SECONDS, or with NaN or infinite samples."""


def dnsmos(audio: np.ndarray, rate: int) -> dict[str, float]:
    """Float audio ([samples], or [samples, channels], averaged) at `rate` -> {"ovrl", "sig", "bak",
    "p808"}, each 1-5, higher is better. Samples beyond full scale are clipped to [-1, 1]."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        audio = to_mono(audio)
    seconds = audio.shape[0] / rate
    if seconds < MIN_SECONDS:  # speechmos never returns on empty audio: it doubles it until it is 9 s long
        raise UnscorableAudio(f"DNSMOS needs at least {MIN_SECONDS} s of audio, not {seconds:.3f} s")
    if not np.isfinite(audio).all():
        raise UnscorableAudio("DNSMOS cannot score audio with NaN or infinite samples")
    audio = np.clip(resample(audio, rate, RATE), -1.0, 1.0)  # speechmos raises on a sample beyond full scale
    if audio.size < WINDOW:
        audio = np.resize(audio, WINDOW)  # repeated to fill one window
    scores = _model()(audio, RATE, False)
    return {name: float(scores[f"{name}_mos"]) for name in MEASURES}


def _model():
    global _loaded
    if _loaded is None or _loaded[0] != os.getpid():
        _loaded = (os.getpid(), _load())
    return _loaded[1]


def _load():
    """speechmos's DNSMOS with its two ONNX sessions on one thread each: data preparation runs a process
    per core, and ONNX Runtime's default of a thread per core in each made it a fifth slower on 2 cores
    (alone, one thread was no slower than two). speechmos.dnsmos.run would build the sessions with the
    defaults; these are the model files and attributes its `DNSMOS.__call__` reads."""
    import onnxruntime
    from speechmos import dnsmos as speechmos_dnsmos

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    models = Path(speechmos_dnsmos.__file__).parent / "dnsmos_models"
    def session(name: str):
        return onnxruntime.InferenceSession(str(models / name), options, providers=["CPUExecutionProvider"])

    model = speechmos_dnsmos.DNSMOS.__new__(speechmos_dnsmos.DNSMOS)
    model.primary_model_path = str(models / "sig_bak_ovr.onnx")
    model.onnx_sess, model.p808_onnx_sess = session("sig_bak_ovr.onnx"), session("model_v8.onnx")
    return model
