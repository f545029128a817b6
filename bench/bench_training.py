#!/usr/bin/env python3
"""Benchmark of one training step at MMS size (default VitsConfig, 36 M parameters; MMS-layout
discriminator, 47 M) on this machine's CPU, split into its parts.

Builds a run through the training engine on generated clips (6-8 s, Common Voice-like
sentences) and times `--steps` of the engine's own steps (`training.loop.train_step`, with
accelerate's backward, the gradient averaging, clipping and the scaler's path in
`apply_updates`) after one warm-up step. The parts are timed by wrapping the functions the
step calls: data loading (the engine's sampler and collate), features (spectrograms),
alignment search, generator forward, discriminator forward, losses, discriminator backward,
generator backward (accelerate's `backward`, told apart by the parameters it is given), the
updates (`apply_updates`: averaging, clipping, both AdamW steps), and the rest of the step
(accumulation bookkeeping, clearing gradients). Reports the share of the step spent outside the
networks' forward and backward passes, the peak memory of the process, and an estimate (not a
measurement) of GPU memory at the same batch in fp16, from the bytes the forward pass saves for
backward.

    python bench/bench_training.py              # batch 4, 3 steps
    python bench/bench_training.py --batch_size 2 --steps 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import train_vits
from kurdish_tts.corpus.dataset import collate
from kurdish_tts.corpus.metadata import read_metadata
from kurdish_tts.samples.folders import write_data
from kurdish_tts.training import loop
from kurdish_tts.training import run as runs
from kurdish_tts.vits import generator as generator_module
from kurdish_tts.vits import objective

SENTENCES = ["ez bîst û pênc salî me û li amedê dijîm", "îro hewa pir xweş e em ê herin baxçe û bilîzin",
             "bihayê nan sê xal pênc lîre ye li bazara bajêr", "zarok li baxçe dilîzin û stranan dibêjin"]
GPU_BUDGET_GB = 8.0


class Clock:
    """Adds up wall time per named part."""

    def __init__(self):
        self.totals = defaultdict(float)

    def wrap(self, name, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.totals[name] += time.perf_counter() - start
        return timed

    def part(self, name):
        clock = self

        class Part:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                clock.totals[name] += time.perf_counter() - self.start
        return Part()


def saved_activation_bytes(run, batch) -> int:
    """Bytes of the tensors the forward pass keeps for backward (both networks, one micro-batch)."""
    seen: dict[int, int] = {}

    def pack(tensor):
        seen[id(tensor)] = tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss_g, loss_d, _, _ = objective.compute_losses(run.model, run.discriminator, batch, run.features, run.weights,
                                                        run.args.segment_frames)
    del loss_g, loss_d
    return sum(seen.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    options = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        texts = [SENTENCES[i % len(SENTENCES)] for i in range(2 * options.batch_size)]
        data = write_data(tmp / "training", texts, seconds=lambda i: 6.0 + 0.25 * i, eval_count=0)
        (tmp / "mms.json").write_text(json.dumps({"vocab_size": 38}))  # the default VitsConfig is MMS size
        args = train_vits.build_parser().parse_args([
            "--data_dir", str(data), "--init_config", str(tmp / "mms.json"), "--batch_size", str(options.batch_size),
            "--gradient_accumulation_steps", "1", "--discriminator_warmup_steps", "0", "--output_dir", str(tmp / "model"),
            "--checkpoint_dir", str(tmp / "checkpoints")])
        clips = read_metadata(data / "metadata.csv")
        run = runs.build_run(args, clips, [], None)
        clock = Clock()
        generator_module.linear_spectrogram = clock.wrap("features", generator_module.linear_spectrogram)
        generator_module.mel_spectrogram = clock.wrap("features", generator_module.mel_spectrogram)
        generator_module.monotonic_alignment_search = clock.wrap("alignment", generator_module.monotonic_alignment_search)
        run.discriminator.forward = clock.wrap("discriminator forward", run.discriminator.forward)
        objective.generator_forward = clock.wrap("generator forward (all)", generator_module.generator_forward)
        loop.compute_losses = clock.wrap("forward + losses (all)", loop.compute_losses)
        loop.apply_updates = clock.wrap("optimiser", loop.apply_updates)
        g_params = run.generator_parameters
        d_params = list(run.discriminator.parameters())
        backward = run.accelerator.backward

        def timed_backward(loss, **kwargs):  # the step's first backward is the discriminator's, on its parameters
            network = "discriminator" if kwargs.get("inputs") and kwargs["inputs"][0] is d_params[0] else "generator"
            return clock.wrap(f"{network} backward", backward)(loss, **kwargs)

        run.accelerator.backward = timed_backward
        batches = loop.epoch_batches(run)
        for step in range(options.steps + 1):
            if step == 1:
                clock.totals.clear()
                started = time.perf_counter()
            with clock.part("data loading"):
                batch = collate([run.dataset[i] for i in batches[step % len(batches)]])
            with clock.part("step"):
                metrics = loop.train_step(run, batch)
            if metrics is None or "grad_norm_g" not in metrics:
                raise SystemExit(f"step {step} did not update both networks: the benchmark would time another step")
        elapsed = (time.perf_counter() - started) / options.steps
        totals = {name: value / options.steps for name, value in clock.totals.items()}
        activations = saved_activation_bytes(run, collate([run.dataset[i] for i in batches[0]]))
    parts = {
        "data loading": totals["data loading"],
        "features": totals["features"],
        "alignment search": totals["alignment"],
        "generator forward": totals["generator forward (all)"] - totals["features"] - totals["alignment"],
        "discriminator forward": totals["discriminator forward"],
        "losses": totals["forward + losses (all)"] - totals["generator forward (all)"] - totals["discriminator forward"],
        "discriminator backward": totals["discriminator backward"],
        "generator backward": totals["generator backward"],
        "updates (averaging, clipping, AdamW)": totals["optimiser"],
    }
    parts["rest of the engine's step"] = elapsed - sum(parts.values())
    networks = ("generator forward", "discriminator forward", "discriminator backward", "generator backward")
    outside = sum(v for k, v in parts.items() if k not in networks)
    g_count = sum(p.numel() for p in g_params)
    d_count = sum(p.numel() for p in d_params)
    print(f"\nMMS size: generator {g_count / 1e6:.1f} M, discriminator {d_count / 1e6:.1f} M parameters; "
          f"batch {options.batch_size} of 6-8 s clips; {options.steps} steps on {torch.get_num_threads()} threads")
    print(f"{'part':38s} {'s/step':>8s} {'share':>7s}")
    for name, value in parts.items():
        print(f"{name:38s} {value:8.3f} {100 * value / elapsed:6.1f}%")
    print(f"{'step':38s} {elapsed:8.3f}")
    print(f"outside the networks' forward/backward: {100 * outside / elapsed:.1f}% of the step")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
    # GPU estimate: fp32 weights + grads + two Adam moments = 16 bytes a parameter; activations saved for
    # backward at half size under fp16 autocast (an upper bound on what stays fp32 is the fp32 figure).
    static = 16 * (g_count + d_count) / 1e9
    print(f"activations saved for backward (fp32): {activations / 1e9:.2f} GB; estimated GPU memory at batch "
          f"{options.batch_size} in fp16: {static:.2f} GB states + {activations / 2e9:.2f}-{activations / 1e9:.2f} GB "
          f"activations + ~0.5 GB CUDA context = {static + activations / 2e9 + 0.5:.1f}-"
          f"{static + activations / 1e9 + 0.5:.1f} GB of the {GPU_BUDGET_GB:.0f} GB target")


if __name__ == "__main__":
    main()
