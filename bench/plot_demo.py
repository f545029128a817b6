#!/usr/bin/env python3
"""The demo sentence as mel spectrograms, after `make demo`: espeak-ng's demo speaker (`ku+m3`) and
the stand-in's voice (`ku`), the stand-in (runs/demo/hello_standin.wav) and the demo's fine-tune
(runs/demo/hello.wav), each synthesis titled with the judge's CER.

    make demo && .venv/bin/python bench/plot_demo.py          # -> bench/figures/demo.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data"))

HELLO = "Ez 25 salî me û ez li Amedê dijîm."  # the Makefile's HELLO


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "runs" / "demo")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "figures" / "demo.png")
    args = parser.parse_args(argv)
    wavs = {"stand-in": args.demo / "hello_standin.wav", "after the demo's fine-tune": args.demo / "hello.wav"}
    missing = [str(path) for path in wavs.values() if not path.is_file()]
    if missing:
        print(f"error: {', '.join(missing)} not found: run `make demo` first", file=sys.stderr)
        return 1

    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kurdish_tts.evaluation import Recognizer, character_error_rate, read_recording
    from speak import speak_clean, spoken_text

    text = spoken_text(HELLO)
    judge = Recognizer(ROOT / "data" / "judge")
    rows = [(f"espeak-ng {voice} ({role})", speak_clean(text, voice), 16000)  # speak_clean: 16 kHz, as training data
            for voice, role in (("ku+m3", "the demo speaker"), ("ku", "the stand-in's voice"))]
    for title, path in wavs.items():
        audio, rate = read_recording(path)
        cer = character_error_rate(text, judge(audio, rate))
        rows.append((f"{title} ({cer:.0%} CER)", audio, rate))
        print(f"{title}: {cer:.1%} CER, {len(audio) / rate:.2f} s")

    figure, axes = plt.subplots(len(rows), 1, figsize=(9, 2.2 * len(rows)))
    for axis, (title, audio, rate) in zip(axes, rows):
        mel = librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=1024, hop_length=256, n_mels=80)
        axis.imshow(librosa.power_to_db(mel, ref=mel.max()), origin="lower", aspect="auto", cmap="magma", vmin=-80)
        axis.set_title(title, fontsize=8)
        axis.set_yticks([])
    axes[-1].set_xlabel(f"frames ({256 / 16:.0f} ms)")
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=80)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
