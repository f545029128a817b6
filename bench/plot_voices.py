#!/usr/bin/env python3
"""One sentence as mel spectrograms: espeak-ng's voices beside recordings and models, each of those
titled with the judge's CER. The defaults draw the demo (after `make demo`): the demo speaker
`hevi` and the stand-in's own voice `berfin` (clean), espeak-ng `ku` (the voice the stand-in first
learnt), the stand-in (runs/demo/hello_standin.wav) and the demo's fine-tune (runs/demo/hello.wav).

    make demo && .venv/bin/python bench/plot_voices.py          # -> bench/figures/demo.png
    .venv/bin/python bench/plot_voices.py --sentence "..." --espeak ku+f3 ku \\
        --model "the stand-in=data/pretrained/model" "300 steps=CHECKPOINT/model" --wav --output fine-tune.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HELLO = "Ez 25 salî me û ez li Amedê dijîm."  # the Makefile's HELLO
DEMO = ROOT / "runs" / "demo"
ROLES = {"berfin": "the stand-in's voice", "ku": "the stand-in's first voice", "ku+f3": "the fine-tuning target",
         "hevi": "the demo speaker"}


def labelled(items: list[str], flag: str) -> list[tuple[str, Path]]:
    pairs = []
    for item in items:
        label, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"error: {flag} {item}: give LABEL=PATH")
        pairs.append((label, Path(path)))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentence", default=HELLO)
    parser.add_argument("--judge", type=Path, default=ROOT / "data" / "judge",
                        help="the recogniser for the CER (data/judge-espeak reproduces figures before 2026-12-05)")
    parser.add_argument("--natural", nargs="*", default=["hevi", "berfin"], help="natural speakers drawn first (clean)")
    parser.add_argument("--espeak", nargs="*", default=["ku"], help="espeak-ng voices drawn next")
    parser.add_argument("--wav", nargs="*", default=[f"stand-in={DEMO / 'hello_standin.wav'}",
                                                      f"after the demo's fine-tune={DEMO / 'hello.wav'}"],
                        metavar="LABEL=PATH", help="recordings of the sentence")
    parser.add_argument("--model", nargs="*", default=[], metavar="LABEL=PATH",
                        help="model folders that speak the sentence (seed 0)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "figures" / "demo.png")
    args = parser.parse_args(argv)
    wavs, models = labelled(args.wav, "--wav"), labelled(args.model, "--model")
    missing = [str(path) for _, path in wavs if not path.is_file()]
    if missing:
        print(f"error: {', '.join(missing)} not found (the demo's: run `make demo` first)", file=sys.stderr)
        return 1

    import librosa
    from bench_voice import RATE, draw

    from kurdish_tts.samples import natural
    from kurdish_tts.samples.espeak import speak_clean
    from kurdish_tts.samples.folders import spoken_text
    from kurdish_tts.scoring.measures import Recognizer, character_error_rate, read_recording
    from kurdish_tts.synthesis.voice import Settings, Voice

    text = spoken_text(args.sentence)
    judge = Recognizer(args.judge)
    rows = {f"natural speaker {name}" + (f" ({ROLES[name]})" if name in ROLES else ""):
            natural.speak(args.sentence, natural.speaker(name), RATE) for name in args.natural}
    rows |= {f"espeak-ng {voice}" + (f" ({ROLES[voice]})" if voice in ROLES else ""): speak_clean(text, voice)
             for voice in args.espeak}  # at RATE, as training data
    spoken = [(label, read_recording(path)) for label, path in wavs]
    spoken += [(label, (Voice(path).speak(text, Settings(seed=0)), RATE)) for label, path in models]
    for label, (audio, rate) in spoken:
        audio = librosa.resample(audio, orig_sr=rate, target_sr=RATE) if rate != RATE else audio
        cer = character_error_rate(text, judge(audio, RATE))
        rows[f"{label} ({cer:.0%} CER)"] = audio
        print(f"{label}: {cer:.1%} CER, {len(audio) / RATE:.2f} s")
    draw(rows, args.output, text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
