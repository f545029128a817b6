#!/usr/bin/env python3
"""Benchmark of synthesis at MMS size (default VitsConfig, 36 M parameters) on this machine's CPU.

Builds a random model of MMS size with the Kurmanji vocabulary, exports it to ONNX, then speaks
the same Kurmanji sentences, in one run, along three paths:

    transformers  tokenizer + `VitsModel(**inputs)`, one sentence at a time (the usual snippet)
    pytorch       this toolkit's `Voice` on the PyTorch engine (two stages, sentences batched)
    onnx          this toolkit's `Voice` on the ONNX Runtime engine (the `--export_onnx` folder)
    onnx int8     the same with the vocoder's convolutions in int8 (`--export_onnx DIR --quantize`)
    sherpa-onnx   the `--format sherpa-onnx` export in sherpa-onnx's OfflineTts (2 threads), float and int8
    piper         the `--format piper` export in piper's PiperVoice

and reports each path's real-time factor (seconds of compute per second of audio; lower is
faster) and its speed against plain transformers. It also checks that the PyTorch engine gives
exactly the transformers audio when no noise is drawn, that ONNX matches PyTorch, and how far
the int8 vocoder's audio lies from the float one (MCD-DTW, same noise).

    python bench/bench_synthesis.py              # 3 rounds over 8 sentences
    python bench/bench_synthesis.py --rounds 1
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kurdish_tts.scoring.measures import mcd_dtw
from kurdish_tts.synthesis.engines import export_onnx
from kurdish_tts.synthesis.runtimes import export_piper, export_sherpa, piper_voice, sherpa_voice
from kurdish_tts.synthesis.voice import Settings, Voice
from kurdish_tts.text.normalizer import normalize_text
from kurdish_tts.text.vocabulary import build_tokenizer, builtin_vocabulary

SENTENCES = [
    "Rojbaş, ez bi kurdî diaxivim.",
    "Ez 25 salî me û li Amedê dijîm.",
    "Hewa îro pir xweş e, em ê herin baxçe.",
    "Bihayê nan 3,5 lîre ye li bazara bajêr.",
    "Zarok li baxçe dilîzin û stranan dibêjin.",
    "Sibê em ê bi trênê biçin Stenbolê.",
    "Dayika min her roj pirtûkekê dixwîne.",
    "Di sala 1984an de ew hat vî gundî.",
]


def transformers_path(model, tokenizer, texts: list[str]) -> float:
    """Seconds of audio made, speaking each normalised text with `VitsModel.forward`."""
    seconds = 0.0
    with torch.no_grad():
        for text in texts:
            inputs = tokenizer(text, return_tensors="pt")
            output = model(**inputs)
            seconds += int(output.sequence_lengths[0]) / model.config.sampling_rate
    return seconds


def sherpa_path(runtime, texts: list[str]) -> float:
    """Seconds of audio made by sherpa-onnx, a normalised sentence at a time."""
    seconds = 0.0
    for text in texts:
        audio = runtime.generate(text)
        seconds += len(audio.samples) / audio.sample_rate
    return seconds


def piper_path(runtime, texts: list[str]) -> float:
    """Seconds of audio made by piper, a normalised sentence at a time (its output left unscaled)."""
    from piper.config import SynthesisConfig

    config = SynthesisConfig(normalize_audio=False)
    return sum(len(chunk.audio_float_array) / chunk.sample_rate for text in texts
               for chunk in runtime.synthesize(text, config))


def timed(function, rounds: int) -> tuple[float, float]:
    """(median seconds per round, seconds of audio per round)."""
    times, audio = [], 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        audio = function()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), audio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    from transformers import VitsConfig, VitsModel

    vocabulary = builtin_vocabulary()
    tokenizer = build_tokenizer(vocabulary)
    torch.manual_seed(0)
    model = VitsModel(VitsConfig(vocab_size=len(vocabulary.token_to_id))).eval()
    texts = [normalize_text(s, vocabulary.characters).text for s in SENTENCES]

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        export_onnx(model, tokenizer, Path(tmp) / "onnx")
        export_seconds = time.perf_counter() - started
        export_onnx(model, tokenizer, Path(tmp) / "int8", quantize=True)
        pytorch, onnx, int8 = Voice.from_model(model, tokenizer), Voice(Path(tmp) / "onnx"), Voice(Path(tmp) / "int8")
        export_sherpa(model, tokenizer, Path(tmp) / "sherpa")
        export_sherpa(model, tokenizer, Path(tmp) / "sherpa-int8", quantize=True)
        export_piper(model, tokenizer, Path(tmp) / "piper")
        runtimes = {"sherpa-onnx": sherpa_voice(Path(tmp) / "sherpa", threads=2),
                    "sherpa-onnx int8": sherpa_voice(Path(tmp) / "sherpa-int8", threads=2)}
        piper = piper_voice(Path(tmp) / "piper")
        passage = " ".join(SENTENCES)

        # Same function: without noise the PyTorch engine is the transformers forward, and ONNX matches it.
        model.noise_scale = model.noise_scale_duration = 0.0
        quiet = Settings(noise_scale=0.0, noise_scale_duration=0.0)
        with torch.no_grad():
            reference = model(**tokenizer(texts[1], return_tensors="pt")).waveform[0].numpy()
        ours = pytorch.speak(SENTENCES[1], quiet)
        same = float(np.abs(reference - ours).max()) if reference.shape == ours.shape else float("inf")
        float_audio = onnx.speak(passage, Settings(seed=1))
        onnx_difference = float(np.abs(pytorch.speak(passage, Settings(seed=1)) - float_audio).max())
        int8_mcd = mcd_dtw(float_audio, int8.speak(passage, Settings(seed=1)), onnx.sampling_rate)
        model.noise_scale, model.noise_scale_duration = model.config.noise_scale, model.config.noise_scale_duration

        for voice in (pytorch, onnx, int8):  # warm-up
            voice.speak(SENTENCES[0], Settings(seed=0))
        transformers_path(model, tokenizer, texts[:1])
        for runtime in runtimes.values():
            sherpa_path(runtime, texts[:1])
        piper_path(piper, texts[:1])
        results = {
            "transformers": timed(lambda: transformers_path(model, tokenizer, texts), options.rounds),
            **{name: timed(lambda voice=voice: len(voice.speak(passage, Settings(seed=0))) / voice.sampling_rate,
                           options.rounds)
               for name, voice in (("pytorch", pytorch), ("onnx", onnx), ("onnx int8", int8))},
            **{name: timed(lambda runtime=runtime: sherpa_path(runtime, texts), options.rounds)
               for name, runtime in runtimes.items()},
            "piper": timed(lambda: piper_path(piper, texts), options.rounds),
        }

    print(f"MMS-size VITS ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters), "
          f"{len(SENTENCES)} sentences, {torch.get_num_threads()} threads, median of {options.rounds} rounds; "
          f"ONNX export took {export_seconds:.1f} s")
    print(f"PyTorch engine vs transformers without noise: largest difference {same:.2e}; "
          f"ONNX vs PyTorch with noise: {onnx_difference:.2e}; int8 vocoder vs float: MCD-DTW {int8_mcd:.2f} dB")
    baseline = results["transformers"][0] / results["transformers"][1]
    print(f"{'path':16s} {'s/round':>8s} {'audio s':>8s} {'RTF':>7s} {'speed-up':>9s}")
    for name, (seconds, audio) in results.items():
        rtf = seconds / audio
        print(f"{name:16s} {seconds:8.2f} {audio:8.2f} {rtf:7.3f} {baseline / rtf:8.2f}x")
    failed = [what for what, ok in (
        (f"the PyTorch engine differs from transformers' forward by {same:.2e} (or in length)", same < 1e-4),
        (f"ONNX differs from PyTorch by {onnx_difference:.2e}", onnx_difference < 1e-3),
    ) if not ok]
    for what in failed:
        print(f"check failed: {what}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
