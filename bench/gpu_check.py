#!/usr/bin/env python3
"""The GPU path, run: the MMS-size model trained through train_vits.py on CUDA in fp16 and bf16.

For each precision: about 50 optimiser steps of the MMS-size config (default VitsConfig with
the stochastic duration predictor and MMS Kurmanji's vocabulary; 36 M parameters against
Meta's 47 M-parameter discriminator layout) at batch 4 x accumulation 4 on generated 3-8 s
clips, every loss trained (no warm-up). It records whether every logged loss is finite, how
many steps the fp16 gradient scaler skipped (after the first few, while it finds its scale,
there should be none), `torch.cuda.max_memory_allocated`, and seconds per step; then the fp16
run again with the process capped at 8 GB of the card
(`torch.cuda.set_per_process_memory_fraction`), as on an 8 GB GPU. It writes a JSON with the
torch and CUDA versions and the device, and exits 1 when a check fails.

    python bench/gpu_check.py                        # on a CUDA machine, a few minutes
    python bench/gpu_check.py --output bench/results/gpu_check.json
    python bench/gpu_check.py --cpu --config configs/tiny.json --steps 2 --precisions bf16   # the logic, on a CPU
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

import train_vits
from kurdish_tts.samples.folders import write_data
from kurdish_tts.training import loop

SENTENCES = ["ez bîst û pênc salî me û li amedê dijîm", "îro hewa pir xweş e em ê herin baxçe û bilîzin",
             "bihayê nan sê xal pênc lîre ye li bazara bajêr", "zarok li baxçe dilîzin û stranan dibêjin",
             "em ê sibê biçin gund", "av sar e", "dengê te pir xweş e, dîsa bistrê", "ew hat mala me"]
BUDGET_GB = 8.0
SETTLING_STEPS = 5  # the fp16 scaler may skip steps while it finds its scale


def mms_size_config(folder: Path) -> Path:
    """VitsConfig's defaults (MMS's sizes) with the stochastic duration predictor and MMS's vocabulary."""
    path = folder / "mms_size.json"
    path.write_text(json.dumps({"vocabulary": "mms", "vocab_size": 36, "use_stochastic_duration_prediction": True,
                                "sampling_rate": 16000}), encoding="utf-8")
    return path


def run_once(data: Path, config: Path, work: Path, precision: str, steps: int, batch: int, accumulation: int,
             device_cap_gb: float | None) -> dict:
    """One training run through train_vits.main; -> what it showed."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, device_cap_gb * 2**30 / total) if device_cap_gb else 1.0)
    scales, times, losses = [], [], []
    real_updates, real_step = loop.apply_updates, loop.train_step

    def watched_updates(run, update_generator):
        scaler = run.accelerator.scaler
        before = scaler.get_scale() if scaler is not None else None
        norms = real_updates(run, update_generator)
        if scaler is not None:
            scales.append((before, scaler.get_scale()))  # a skipped step lowers the scale
        return norms

    def timed_step(run, batch_):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        metrics = real_step(run, batch_)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        if metrics is not None:
            losses.append(metrics)
        return metrics

    loop.apply_updates, loop.train_step = watched_updates, timed_step
    argv = ["--data_dir", str(data), "--init_config", str(config), "--output_dir", str(work / "model"),
            "--checkpoint_dir", str(work / "checkpoints"), "--batch_size", str(batch),
            "--gradient_accumulation_steps", str(accumulation), "--max_steps", str(steps),
            "--mixed_precision", precision, "--discriminator_warmup_steps", "0", "--learning_rate", "2e-4",
            "--eval_steps", "100000", "--save_steps", "100000", "--logging_steps", "1", "--dataloader_workers", "0"]
    started = time.perf_counter()
    try:
        code = train_vits.main(argv)
        error = None if code == 0 else f"train_vits.py exited {code}"
    except torch.cuda.OutOfMemoryError as e:
        code, error = 1, f"out of memory: {str(e).splitlines()[0]}"
    finally:
        loop.apply_updates, loop.train_step = real_updates, real_step
    wall = time.perf_counter() - started
    skipped = [i for i, (before, after) in enumerate(scales) if after < before]
    micro = times[accumulation * 2:] or times  # past the first steps (allocation, kernels' first calls)
    result = {
        "precision": precision, "steps": steps, "batch": batch, "accumulation": accumulation,
        "device_cap_gb": device_cap_gb, "exit_code": code, "error": error, "wall_s": round(wall, 1),
        "seconds_per_step": round(sum(micro) / len(micro) * accumulation, 3) if micro else None,
        "finite": bool(losses) and all(all(math.isfinite(v) for v in m.values()) for m in losses),
        "scaler_skipped_steps": skipped, "skipped_after_settling": [i for i in skipped if i >= SETTLING_STEPS],
        "final_losses": {k: round(v, 4) for k, v in losses[-1].items()} if losses else None,
        "max_memory_allocated_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }
    result["ok"] = (code == 0 and result["finite"] and not result["skipped_after_settling"]
                    and (result["max_memory_allocated_gb"] is None or result["max_memory_allocated_gb"] < BUDGET_GB))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="a VitsConfig JSON (default: MMS's sizes)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=4)
    parser.add_argument("--precisions", nargs="+", default=["fp16", "bf16"], choices=["fp16", "bf16", "no"])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (the script's logic, without the GPU checks)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "gpu_check.json")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available() and not args.cpu:
        print("no CUDA GPU here: this check is for a GPU machine (--cpu runs its logic on the CPU)", file=sys.stderr)
        return 2
    if args.cpu and "fp16" in args.precisions:
        parser.error("fp16 needs a CUDA GPU: use --precisions bf16 or no with --cpu")
    report = {"torch": torch.__version__, "cuda": torch.version.cuda,
              "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu", "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        texts = [SENTENCES[i % len(SENTENCES)] for i in range(args.clips)]
        data = write_data(tmp / "data", texts, seconds=lambda i: 3.0 + (i * 0.37) % 5.0, eval_count=0)
        config = args.config or mms_size_config(tmp)
        plans = [(precision, None) for precision in args.precisions]
        if torch.cuda.is_available() and "fp16" in args.precisions:
            plans.append(("fp16", BUDGET_GB))  # as on an 8 GB card
        for number, (precision, cap) in enumerate(plans):
            result = run_once(data, config, tmp / f"run{number}", precision, args.steps, args.batch_size,
                              args.gradient_accumulation_steps, cap)
            report["runs"].append(result)
            print(json.dumps(result), flush=True)
    report["ok"] = all(run["ok"] for run in report["runs"])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"{'all checks passed' if report['ok'] else 'a check failed'}; written to {args.output}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
