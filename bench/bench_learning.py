#!/usr/bin/env python3
"""Learning check: does training still teach the model something?

Prepares the bundled demo corpus, scores the tiny config's random initial weights on the
held-out clips (MCD-DTW and duration ratio, fixed seed), trains it from those weights for
--steps on this CPU, and scores it again. A change that breaks learning shows up as an
MCD-DTW that no longer falls.

    python bench/bench_learning.py               # 300 steps, a few minutes on 2 cores
    python bench/bench_learning.py --steps 100 --min_fall 0.05
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
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import prepare_data  # noqa: E402
import train_vits  # noqa: E402
from kurdish_tts import evaluation  # noqa: E402
from kurdish_tts.metadata import read_metadata  # noqa: E402
from kurdish_tts.synthesis import Voice  # noqa: E402


def score(model: Path, data: Path) -> tuple[float, float]:
    clips = read_metadata(data / "metadata_eval.csv")
    scores = evaluation.score_model(Voice(model), str(model), data, clips, seed=0)
    return float(np.mean([s.mcd_dtw for s in scores])), float(np.mean([s.duration_ratio for s in scores]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--min_fall", type=float, default=0.1, help="fraction MCD-DTW must fall by (exit 1 if not)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "training"
        assert prepare_data.main(["--dataset", str(ROOT / "data" / "demo"), "--output_dir", str(data)]) == 0
        common = ["--data_dir", str(data), "--init_config", str(ROOT / "configs" / "tiny.json"), "--batch_size", "8",
                  "--gradient_accumulation_steps", "1", "--learning_rate", "2e-3", "--discriminator_warmup_steps", "0",
                  "--eval_steps", "100000", "--save_steps", "100000", "--seed", "1"]
        # One step at learning rate 0 saves the random initial weights through the same code path.
        assert train_vits.main(common + ["--output_dir", str(tmp / "initial"), "--checkpoint_dir", str(tmp / "c0"),
                                         "--max_steps", "1", "--learning_rate", "0"]) == 0
        started = time.perf_counter()
        assert train_vits.main(common + ["--output_dir", str(tmp / "trained"), "--checkpoint_dir", str(tmp / "c1"),
                                         "--max_steps", str(options.steps)]) == 0
        minutes = (time.perf_counter() - started) / 60
        before, after = score(tmp / "initial", data), score(tmp / "trained", data)
    print(f"\ntiny config, demo corpus, {options.steps} steps of batch 8 ({minutes:.1f} min on this CPU)")
    print(f"{'':10s} {'MCD-DTW dB':>11s} {'duration ratio':>15s}")
    print(f"{'initial':10s} {before[0]:11.2f} {before[1]:15.2f}")
    print(f"{'trained':10s} {after[0]:11.2f} {after[1]:15.2f}")
    fall = 1 - after[0] / before[0]
    print(f"MCD-DTW fell by {before[0] - after[0]:.2f} dB ({100 * fall:.0f} %)")
    if fall < options.min_fall:
        sys.exit(f"learning check failed: MCD-DTW fell by {100 * fall:.0f} %, expected at least {100 * options.min_fall:.0f} %")


if __name__ == "__main__":
    main()
