"""What synthesize.py does besides speaking to files: exports for a runtime, checked against the
PyTorch model, and raw PCM on standard output as it is made."""

from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from kurdish_tts.synthesis.voice import Settings, SynthesisError, Voice

EXPORT_FORMATS = ("toolkit", "sherpa-onnx", "piper")


def export(model: str, output: Path, quantize: bool, kind: str = "toolkit", distance=None) -> int:
    """Export a PyTorch model to ONNX (the toolkit's graphs, a sherpa-onnx or a piper voice) and say how
    far its audio lies from PyTorch's: for the same noise (the toolkit's graphs), without noise (the
    runtimes draw their own): the largest difference and `distance(reference, audio, rate)` (MCD-DTW)."""
    from kurdish_tts.synthesis.engines import TorchEngine, export_onnx
    from kurdish_tts.synthesis.runtimes import export_piper, export_sherpa, piper_voice, sherpa_voice

    check = "Ez 25 salî me û li Amedê dijîm."
    try:
        voice = Voice(model)
        if not isinstance(voice.engine, TorchEngine):
            raise SynthesisError(f"{model} is already an ONNX export: pass a PyTorch model folder or hub id")
        card = Path(model) / "README.md"
        if kind in ("sherpa-onnx", "piper"):  # the runtime the export is checked in, before anything is written
            try:
                importlib.import_module(kind.replace("-", "_"))
            except ImportError as e:
                broken = f" ({e})" if e.name not in (None, kind.replace("-", "_")) else ""  # installed, but failing
                raise SynthesisError(f"--format {kind}: the export is checked in {kind}, which is not installed{broken}: "
                                     f"pip install -e '.[runtimes]'") from None
        if kind == "sherpa-onnx":
            export_sherpa(voice.engine.model, voice.tokenizer, output, model_card=card, source=model, quantize=quantize)
            quiet = Settings(noise_scale=0.0, noise_scale_duration=0.0)
            reference = voice.speak(check, quiet)
            spoken = " ".join(voice.sentences(check))  # sherpa-onnx runs no normaliser: it gets the normalised text
            audio = np.asarray(sherpa_voice(output, 0.0, 0.0).generate(spoken).samples, dtype=np.float32)
        elif kind == "piper":
            if quantize:
                raise SynthesisError("--quantize: the piper export has a float vocoder only; leave --quantize out")
            from piper.config import SynthesisConfig

            export_piper(voice.engine.model, voice.tokenizer, output, model_card=card, source=model)
            reference = voice.speak(check, Settings(noise_scale=0.0, noise_scale_duration=0.0))
            quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
            audio = np.concatenate([chunk.audio_float_array for sentence in voice.sentences(check)
                                    for chunk in piper_voice(output).synthesize(sentence, quiet)])
        else:
            export_onnx(voice.engine.model, voice.tokenizer, output, model_card=card, quantize=quantize)
            reference, audio = voice.speak(check, Settings(seed=0)), Voice(output).speak(check, Settings(seed=0))
    except (SynthesisError, OSError) as e:  # OSError: the folder cannot be written (permissions, a file in the way, disk full)
        print(f"error: {e}", file=sys.stderr)
        return 1
    size = min(len(reference), len(audio))
    described = {"toolkit": "ONNX", "sherpa-onnx": "a sherpa-onnx voice", "piper": "a piper voice"}[kind]
    described += ", int8 vocoder" if quantize else ""
    print(f"exported {model} to {output} ({described}); on a test sentence against PyTorch: largest difference "
          f"{float(np.max(np.abs(reference[:size] - audio[:size]))):.2e}"
          + (f", MCD-DTW {distance(reference, audio, voice.sampling_rate):.2f} dB" if distance else ""))
    return 0


def stream_pcm(voice: Voice, utterances: list[str], settings: Settings) -> int:
    """`--output -`: raw 16-bit little-endian mono PCM on standard output as it is made, piece by piece
    (`| aplay -r 16000 -f S16_LE -c 1`), the utterances one after another with a pause between them."""
    from kurdish_tts.corpus.audio import to_pcm16
    from kurdish_tts.synthesis.voice import PAUSE_S

    out, started, written = sys.stdout.buffer, time.perf_counter(), {"seconds": 0.0, "first": None}

    def write(piece: np.ndarray) -> None:
        out.write(to_pcm16(piece).astype("<i2", copy=False).tobytes())
        out.flush()
        written["first"] = written["first"] or time.perf_counter() - started
        written["seconds"] += len(piece) / voice.sampling_rate

    try:
        for index, text in enumerate(utterances):
            if index:
                write(np.zeros(int(PAUSE_S * voice.sampling_rate), dtype=np.float32))
            for piece in voice.pieces(text, settings):
                write(piece)
    except BrokenPipeError:  # the player (or `head`) stopped reading: that is its choice, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that Python's own flush at exit finds somewhere to write
        return 0
    elapsed = time.perf_counter() - started
    print(f"streamed {written['seconds']:.1f} s of {voice.sampling_rate} Hz 16-bit PCM to standard output in "
          f"{elapsed:.1f} s (first audio after {written['first'] or 0:.2f} s)", file=sys.stderr)
    return 0


