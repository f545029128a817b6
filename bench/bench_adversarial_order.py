#!/usr/bin/env python3
"""Should the generator's adversarial loss see the discriminator before or after its update?

The engine scores real and generated audio once, before the discriminator's update, and uses those
scores for both losses (`kurdish_tts/objective.py`); the original VITS recipe scores the generated
audio a second time, after the update. This measures, on batches of the stand-in's own training data
with its trained discriminator (its Adam moments warmed on other batches first), how much that changes the generator's gradient: the cosine between
the gradients of its adversarial and feature-matching losses computed against the discriminator
before and after one update, and their norms; plus the share of a step the extra pass would cost.

    python bench/bench_adversarial_order.py                 # 4 batches of 8, about a minute on 2 cores
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

from kurdish_tts.corpus.dataset import TtsDataset, collate
from kurdish_tts.corpus.metadata import read_metadata
from kurdish_tts.samples.espeak import write_folder
from kurdish_tts.vits.discriminator import load_discriminator
from kurdish_tts.vits.features import FeatureConfig
from kurdish_tts.vits.generator import generator_forward
from kurdish_tts.vits.losses import loss_disc, loss_fm, loss_gen

PRETRAINED = ROOT / "data" / "pretrained-espeak"  # the stand-in that learnt espeak-ng ku, the data this feeds it


def flat_gradient(loss: torch.Tensor, parameters: list[torch.Tensor]) -> torch.Tensor:
    gradients = torch.autograd.grad(loss, parameters, retain_graph=True, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(gradients, parameters)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=2e-4, help="the discriminator's update")
    parser.add_argument("--warm_updates", type=int, default=8, help="discriminator updates on other batches first")
    parser.add_argument("--pretrained", type=Path, default=PRETRAINED,
                        help="a stand-in folder (model/, discriminator/) that learnt espeak-ng ku")
    args = parser.parse_args(argv)
    from transformers import VitsModel, VitsTokenizer

    torch.manual_seed(0)
    model = VitsModel.from_pretrained(args.pretrained / "model").train()
    tokenizer = VitsTokenizer.from_pretrained(args.pretrained / "model")
    features = FeatureConfig.from_model_config(model.config)
    parameters = [p for p in model.parameters() if p.requires_grad]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_folder(data, "ku", ["standin"], [], limit=(args.batches + args.warm_updates) * args.batch_size)
        clips = read_metadata(data / "metadata.csv")
        dataset = TtsDataset(data, clips, tokenizer, model.config.sampling_rate, features.hop_length)
        def batch_of(number: int):
            return collate([dataset[i] for i in range(number * args.batch_size, (number + 1) * args.batch_size)])

        for b in range(args.batches):
            discriminator = load_discriminator(args.pretrained / "discriminator").train()
            optimizer = torch.optim.AdamW(discriminator.parameters(), args.learning_rate, betas=(0.8, 0.99), eps=1e-9)
            for w in range(args.warm_updates):  # Adam's first steps are full-size: warm its moments as in training
                with torch.no_grad():
                    warm = generator_forward(model, batch_of(args.batches + w), features)
                optimizer.zero_grad()
                loss_disc(discriminator(warm.waveform_real)[0], discriminator(warm.waveform_fake)[0]).backward()
                optimizer.step()
            batch = batch_of(b)
            out = generator_forward(model, batch, features)
            started = time.perf_counter()
            scores_real, features_real = discriminator(out.waveform_real)
            scores_fake, features_fake = discriminator(out.waveform_fake)
            pass_seconds = (time.perf_counter() - started) / 2
            before = loss_gen(scores_fake) + loss_fm(features_real, features_fake)
            gradient_before = flat_gradient(before, parameters)
            optimizer.zero_grad()
            loss_disc(scores_real, scores_fake).backward(inputs=list(discriminator.parameters()), retain_graph=True)
            optimizer.step()
            scores_real, features_real = discriminator(out.waveform_real)  # the original recipe's extra pass
            scores_fake, features_fake = discriminator(out.waveform_fake)
            after = loss_gen(scores_fake) + loss_fm(features_real, features_fake)
            gradient_after = flat_gradient(after, parameters)
            cosine = float(torch.nn.functional.cosine_similarity(gradient_before, gradient_after, dim=0))
            rows.append((cosine, float(gradient_before.norm()), float(gradient_after.norm()), before.item(),
                         after.item(), pass_seconds))
            print(f"batch {b}: cosine {cosine:.4f}, gradient norm {rows[-1][1]:.2f} -> {rows[-1][2]:.2f}, "
                  f"adversarial + feature-matching loss {rows[-1][3]:.3f} -> {rows[-1][4]:.3f}", flush=True)
    cosine, norm_before, norm_after, loss_before, loss_after, pass_seconds = np.mean(rows, axis=0)
    print(f"\nmean over {args.batches} batches of {args.batch_size}: cosine {cosine:.4f} between the generator's adversarial "
          f"gradients before and after one discriminator update (learning rate {args.learning_rate:g}); norms "
          f"{norm_before:.2f} / {norm_after:.2f}; losses {loss_before:.3f} / {loss_after:.3f}; one discriminator pass "
          f"on the generated batch {pass_seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
