#!/usr/bin/env python3
"""Learning check: fine-tuning the stand-in pretrained voice moves it toward a new voice and keeps it speaking.

data/pretrained/model (a voice trained on espeak-ng's `ku`) is fine-tuned, as a user fine-tunes
MMS, on --clips of the `finetune` sentences spoken by another espeak-ng voice (--target, one the
stand-in never heard): the acceptance run of a fine-tune, `train_vits.py --model_name_or_path
data/pretrained/model --max_steps 300 --batch_size 8 --gradient_accumulation_steps 1
--learning_rate 1e-4 --mixed_precision no` on 80 clips, every other flag at train_vits.py's
default (no --discriminator: a fresh one, as with MMS). Before and after, on the 20
`heldout` sentences that neither voice trained on, it reports:

    distance to the target voice      MCD-DTW against the target's rendering: must fall
    distance to the original voice    MCD-DTW against `ku`'s rendering: rises as the voice moves
    judge CER                         data/judge's character error rate: must not rise by more than 0.05
    duration and loudness ratios      against the target's rendering: a collapse shows here

with the same figures for espeak-ng's own target and original voices beside them, and exits 1
when the distance to the target does not fall or intelligibility is lost.

    python bench/bench_learning.py                 # 300 steps, about 15 minutes on 2 cores
    python bench/bench_learning.py --steps 600 --target ku+m3   # a close variant of ku (5.1 dB)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import train_vits
from kurdish_tts.samples.espeak import speak_clean, write_folder
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import Recognizer, compare_voices, mcd_dtw
from kurdish_tts.synthesis.voice import Settings, Voice

PRETRAINED = ROOT / "data" / "pretrained"
ORIGINAL_VOICE = "ku"
RATE = 16_000


def measure(audios: list[np.ndarray], texts: list[str], target: list[np.ndarray], original: list[np.ndarray],
            recognizer) -> dict[str, float]:
    """The evaluation's measures against the target voice, and the distance to the original voice."""
    row = compare_voices(audios, target, texts, RATE, recognizer)
    row["to_target"] = row.pop("mcd_dtw")
    row["to_original"] = float(np.mean([mcd_dtw(o, a, RATE) for o, a in zip(original, audios)]))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--clips", type=int, default=80, help="fine-tuning clips of the target voice")
    parser.add_argument("--discriminator", type=Path, help="a trained discriminator to start from (default: a fresh "
                        "one, as with MMS; data/pretrained/discriminator is the stand-in's own)")
    parser.add_argument("--target", default="ku+f3", help="espeak-ng voice to move toward (ku+f3: 13.5 dB from ku)")
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--judge", type=Path, default=ROOT / "data" / "judge",
                        help="the recogniser for the CER (data/judge-espeak reproduces figures before 2026-12-05)")
    parser.add_argument("--max_cer_rise", type=float, default=0.05)
    args = parser.parse_args(argv)
    heldout = read_sentences("heldout")
    texts = [spoken_text(s) for _, s in heldout]
    target = [speak_clean(s, args.target) for _, s in heldout]
    original = [speak_clean(s, ORIGINAL_VOICE) for _, s in heldout]
    recognizer = Recognizer(args.judge)

    def spoken_by(model: Path) -> list[np.ndarray]:
        voice = Voice(model)
        return [voice.speak(t, Settings(seed=0)) for t in texts]

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_folder(tmp / "data", args.target, ["finetune"], ["heldout"], limit=args.clips)
        started = time.perf_counter()
        code = train_vits.main([
            "--data_dir", str(tmp / "data"), "--model_name_or_path", str(PRETRAINED / "model"),
            "--output_dir", str(tmp / "model"), "--checkpoint_dir", str(tmp / "checkpoints"),
            "--max_steps", str(args.steps), "--batch_size", "8", "--gradient_accumulation_steps", "1",
            "--learning_rate", str(args.learning_rate), "--mixed_precision", "no", "--eval_steps", "100000",
            "--save_steps", "100000", "--seed", "1",
            *(["--discriminator", str(args.discriminator)] if args.discriminator else [])])
        if code != 0:
            return code
        minutes = (time.perf_counter() - started) / 60
        rows = {
            "stand-in, before": measure(spoken_by(PRETRAINED / "model"), texts, target, original, recognizer),
            f"after {args.steps} steps": measure(spoken_by(tmp / "model"), texts, target, original, recognizer),
            f"espeak-ng {args.target} (the target)": measure(target, texts, target, original, recognizer),
            f"espeak-ng {ORIGINAL_VOICE} (the original)": measure(original, texts, target, original, recognizer),
        }
    print(f"\nstand-in fine-tuned on {args.clips} clips of espeak-ng {args.target}, {args.steps} steps of batch 8 "
          f"({minutes:.1f} min on this CPU); {len(texts)} held-out sentences")
    print(f"| {'':32s} | to target dB | to original dB | judge CER | duration | loudness |")
    print(f"|{'-' * 34}|-------------:|---------------:|----------:|---------:|---------:|")
    for name, row in rows.items():
        print(f"| {name:32s} | {row['to_target']:12.2f} | {row['to_original']:14.2f} | {row['cer']:8.1%} | "
              f"{row['duration_ratio']:8.2f} | {row['loudness_ratio']:8.2f} |")
    before, after = rows["stand-in, before"], rows[f"after {args.steps} steps"]
    failures = []
    if after["to_target"] >= before["to_target"]:
        failures.append(f"the distance to {args.target} did not fall ({before['to_target']:.2f} -> {after['to_target']:.2f} dB)")
    if after["cer"] > before["cer"] + args.max_cer_rise:
        failures.append(f"the judge's CER rose from {before['cer']:.1%} to {after['cer']:.1%}")
    if failures:
        print(f"learning check failed: {'; '.join(failures)}", file=sys.stderr)
        return 1
    print(f"learning check passed: {before['to_target'] - after['to_target']:.2f} dB closer to {args.target}, "
          f"CER {before['cer']:.1%} -> {after['cer']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
