#!/usr/bin/env python3
"""How long `make demo` should fine-tune: the stand-in fine-tuned on the demo corpus for each of --steps.

`make demo` prepares data/demo for its busiest speaker (`hevi`: 22 training clips, 0.8 minutes) and
fine-tunes data/pretrained/model on it with train_vits.py's defaults at batch 8 and 1e-4. For each
number of --steps and each --seeds this bench runs that fine-tune (flags after -- go to train_vits.py,
--denoise to prepare_data.py) and scores the voice that results, beside the stand-in and references:

    on the 20 `heldout` sentences   the judge's CER, DNSMOS OVRL, MCD-DTW to `hevi`'s clean renderings,
                                    duration and loudness ratios (bench_learning.py's measures)
    on the demo's sentence          the mean judge CER and DNSMOS OVRL of --draws renderings (seeds 0..):
                                    one rendering of one sentence varies by 10-20 points of CER

Runs are kept in runs/bench_demo/ (a finished run is scored again, not trained again); the figures go
to --output as JSON and to the screen as a table.

    python bench/bench_demo.py                                    # 50-300 steps: about 15 minutes on 2 cores
    python bench/bench_demo.py --steps 300 --label ema995 -- --ema_decay 0.995
    python bench/bench_demo.py --steps 300 --denoise rnnoise --label denoised
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_learning import ORIGINAL_VOICE, PRETRAINED, RATE, measure, references, target_clean
from plot_voices import HELLO  # the Makefile's demo sentence

import prepare_data
import train_vits
from kurdish_tts.corpus.denoising import METHODS
from kurdish_tts.files import write_text_atomic
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import Recognizer, character_error_rate, naturalness
from kurdish_tts.synthesis.voice import Settings, Voice

DEMO_SPEAKER = "hevi"  # data/demo's busiest speaker: what `--top_speakers 1` keeps
WORK = ROOT / "runs" / "bench_demo"


def demo_data(denoise: str) -> Path:
    """data/demo prepared as `make demo` prepares it (kept: reused when there)."""
    data = WORK / ("data" if denoise == "none" else f"data-{denoise}")
    if not (data / "metadata.csv").is_file() and prepare_data.main([
            "--dataset", str(ROOT / "data" / "demo"), "--output_dir", str(data), "--top_speakers", "1",
            "--denoise", denoise]) != 0:
        raise SystemExit("prepare_data.py failed on data/demo")
    return data


def fine_tune(data: Path, folder: Path, steps: int, seed: int, extra: list[str]) -> Path:
    """The demo's fine-tune (train_vits.py's defaults, batch 8, 1e-4) for `steps`, kept in `folder`."""
    model = folder / "model"
    if (model / "model.safetensors").is_file():
        return model
    code = train_vits.main(["--data_dir", str(data), "--model_name_or_path", str(PRETRAINED / "model"),
                            "--output_dir", str(model), "--checkpoint_dir", str(folder / "checkpoints"),
                            "--batch_size", "8", "--gradient_accumulation_steps", "1", "--learning_rate", "1e-4",
                            "--max_steps", str(steps), "--save_steps", "100000", "--eval_steps", "100000",
                            "--seed", str(seed), *extra])
    if code != 0:
        raise SystemExit(f"train_vits.py failed in {folder}")
    return model


def score(model: Path, texts: list[str], clean, original, recognizer, draws: int) -> dict[str, float]:
    """bench_learning.py's measures on the held-out sentences (seed 0 each), and the demo sentence's mean
    CER and OVRL over `draws` renderings."""
    voice = Voice(model)
    row = measure([voice.speak(t, Settings(seed=0)) for t in texts], texts, clean, original, recognizer)
    said = spoken_text(HELLO)
    hello = [voice.speak(said, Settings(seed=seed)) for seed in range(draws)]
    row["hello_cer"] = float(np.mean([character_error_rate(said, recognizer(a, RATE)) for a in hello]))
    row["hello_ovrl"] = float(np.mean([naturalness(a, RATE)["dnsmos_ovrl"] for a in hello]))
    return row


def print_table(rows: dict[str, dict]) -> None:
    print(f"| {'':44s} | judge CER | OVRL | to {DEMO_SPEAKER} dB | duration | loudness | demo sentence CER / OVRL |")
    print(f"|{'-' * 46}|----------:|-----:|-----------:|---------:|---------:|-------------------------:|")
    for name, row in rows.items():
        hello = f"{row['hello_cer']:.1%} / {row['hello_ovrl']:.2f}" if "hello_cer" in row else ""
        print(f"| {name:44s} | {row['cer']:8.1%} | {row['dnsmos_ovrl']:4.2f} | {row['to_target']:10.2f} | "
              f"{row['duration_ratio']:8.2f} | {row['loudness_ratio']:8.2f} | {hello:>24s} |")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 100, 150, 200, 300])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1234], help="train_vits.py --seed (its default 1234)")
    parser.add_argument("--denoise", choices=METHODS, default="none", help="prepare_data.py --denoise")
    parser.add_argument("--label", default="default", help="names the runs (give one for flags after --)")
    parser.add_argument("--draws", type=int, default=10, help="renderings of the demo sentence a voice is scored on")
    parser.add_argument("--judge", type=Path, default=ROOT / "data" / "judge")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "demo.json")
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if (extra or args.denoise != "none") and args.label == "default":
        parser.error("flags after -- or --denoise make another recipe: name it with --label")
    if min(args.steps) < 1 or args.draws < 1:
        parser.error("--steps and --draws must be 1 or more")
    heldout = read_sentences("heldout")
    texts = [spoken_text(s) for _, s in heldout]
    clean, original = target_clean(DEMO_SPEAKER, heldout), target_clean(ORIGINAL_VOICE, heldout)
    recognizer = Recognizer(args.judge)
    data = demo_data(args.denoise)
    rows = {"the stand-in": score(PRETRAINED / "model", texts, clean, original, recognizer, args.draws)}
    for seed in args.seeds:
        for steps in args.steps:
            model = fine_tune(data, WORK / f"{args.label}-{steps}-seed{seed}", steps, seed, extra)
            rows[f"{args.label}, {steps} steps, seed {seed}"] = score(model, texts, clean, original, recognizer,
                                                                      args.draws)
    rows.update(references(DEMO_SPEAKER, heldout, texts, clean, original, recognizer))
    clips = len((data / "metadata.csv").read_text(encoding="utf-8").splitlines())
    print(f"\nthe stand-in fine-tuned on the demo corpus ({clips} clips of {DEMO_SPEAKER}{', ' + args.denoise if args.denoise != 'none' else ''})"
          f"{' with ' + ' '.join(extra) if extra else ''}; {len(texts)} held-out sentences; the demo sentence "
          f"{args.draws} times")
    print_table(rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.output, json.dumps({"label": args.label, "denoise": args.denoise, "train_flags": extra,
                                               "clips": clips, "rows": rows}, ensure_ascii=False, indent=2))
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
