#!/usr/bin/env python3
"""First audio: how soon synthesis in pieces gives the first samples, against the whole text's time.

For the stand-in and a random model of MMS size (default VitsConfig, 36 M parameters), on the
PyTorch engine and on ONNX Runtime (float and int8 vocoder), speaks a 1-, 3- and 10-sentence text
and one long sentence (about 200 characters, the most a sentence may hold), and reports per case:
the seconds to the first piece (`Voice.pieces`: text encoder and duration predictor over the first
sentence, the flow over its first 60 frames, then the decoder over its first 12 frames with 16
frames of context), the part of it spent before the decoder, the seconds to the whole text, and the seconds of audio. Median of
--rounds, in one run, so the ratios compare.

    python bench/bench_streaming.py              # about 3 minutes on 2 cores
    python bench/bench_streaming.py --rounds 1 --models standin
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

from kurdish_tts.synthesis.engines import export_onnx
from kurdish_tts.synthesis.voice import Settings, Voice
from kurdish_tts.text.vocabulary import build_tokenizer, builtin_vocabulary

SENTENCES = [
    "Rojbaş, ez bi kurdî diaxivim.", "Ez 25 salî me û li Amedê dijîm.", "Hewa îro pir xweş e, em ê herin baxçe.",
    "Bihayê nan 3,5 lîre ye li bazara bajêr.", "Zarok li baxçe dilîzin û stranan dibêjin.",
    "Sibê em ê bi trênê biçin Stenbolê.", "Dayika min her roj pirtûkekê dixwîne.", "Di sala 1984an de ew hat vî gundî.",
    "Bavê min li gund dijî û her sal genim diçîne.", "Em ê îşev li mala hevalên xwe bimînin.",
]
LONG = ("Di havîna sala borî de em bi hemû malbata xwe re çûn gundê bapîrê min yê li ser çiyayan, li wir me "
        "çend hefte derbas kirin, her sibe em zû radibûn, diçûn kaniyê av dianîn û paşê li baxçeyên fêkiyan dixebitîn")
TEXTS = {"1 sentence": SENTENCES[0], "3 sentences": " ".join(SENTENCES[:3]), "10 sentences": " ".join(SENTENCES),
         "one long sentence": LONG + "."}


def first_and_whole(voice: Voice, text: str) -> tuple[float, float, float]:
    """(seconds to the first piece, seconds to the last, seconds of audio)."""
    started = time.perf_counter()
    pieces = voice.pieces(text, Settings(seed=0))
    audio = [next(pieces)]
    first = time.perf_counter() - started
    audio += list(pieces)
    return first, time.perf_counter() - started, sum(map(len, audio)) / voice.sampling_rate


def before_decoder(voice: Voice, text: str) -> float:
    """Seconds of the first sentence's text encoder, duration predictor and flow (what the first piece waits for)."""
    from kurdish_tts.synthesis.engines import synthesize_pieces

    inputs = voice.tokenizer(voice.sentences(text)[0], return_tensors="np")
    engine, decode = voice.engine, voice.engine.decode
    engine.decode = lambda latents, speaker=None: np.zeros((1, latents.shape[2] * 256), dtype=np.float32)
    try:
        started = time.perf_counter()
        next(synthesize_pieces(engine, voice.config, inputs["input_ids"], inputs["attention_mask"],
                               np.random.default_rng(0), *voice.scales(Settings())))
        return time.perf_counter() - started
    finally:
        engine.decode = decode


def voices(names: list[str], folder: Path) -> dict[str, Voice]:
    found = {}
    for name in names:
        if name == "standin":
            source = ROOT / "data" / "pretrained" / "model"
            from transformers import VitsModel, VitsTokenizer

            model, tokenizer = VitsModel.from_pretrained(source).eval(), VitsTokenizer.from_pretrained(source)
        else:
            from transformers import VitsConfig, VitsModel

            vocabulary = builtin_vocabulary()
            tokenizer = build_tokenizer(vocabulary)
            torch.manual_seed(0)
            model = VitsModel(VitsConfig(vocab_size=len(vocabulary.token_to_id))).eval()
        found[f"{name} pytorch"] = Voice.from_model(model, tokenizer)
        for quantize in (False, True):
            path = export_onnx(model, tokenizer, folder / f"{name}-{quantize}", quantize=quantize)
            found[f"{name} onnx{' int8' if quantize else ''}"] = Voice(path)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", choices=["standin", "mms-size"], default=["standin", "mms-size"])
    options = parser.parse_args()
    print(f"{torch.get_num_threads()} threads, median of {options.rounds} rounds")
    print(f"| {'voice':22s} | {'text':18s} | audio s | first audio s | of it before the decoder s | whole s | first / whole |")
    print(f"|{'-' * 24}|{'-' * 20}|--------:|--------------:|---------------------------:|--------:|--------------:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, voice in voices(options.models, Path(tmp)).items():
            voice.speak(SENTENCES[0], Settings(seed=0))  # warm-up
            for label, text in TEXTS.items():
                runs = [first_and_whole(voice, text) for _ in range(options.rounds)]
                first, whole, audio = (float(np.median([r[i] for r in runs])) for i in range(3))
                setup = float(np.median([before_decoder(voice, text) for _ in range(options.rounds)]))
                print(f"| {name:22s} | {label:18s} | {audio:7.2f} | {first:13.3f} | {setup:26.3f} | {whole:7.2f} | "
                      f"{first / whole:13.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
