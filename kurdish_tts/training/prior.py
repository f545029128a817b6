"""Whether a fine-tune keeps the pretrained prior (--keep_prior).

The prior is the part of a VITS voice that reads: the text encoder, the duration predictor and
the flow turn a text into the latent speech the decoder renders. Fine-tuned on a few minutes of a
new natural speaker, a voice learns their sound in the posterior encoder and the decoder; if the
prior learns too, it drifts toward those few clips and the voice reads worse (bench_finetune.py:
the natural stand-in on 51 clips of `hevi`, 300 steps, judge CER 10.6 % -> 23.7 % with the prior
learning, 15.5 % with it kept, over two seeds). A voice whose speech the prior does not explain (an
espeak-ng voice: other timing, other latents) needs its prior to learn (the same check on
`ku+f3`: 14.5 % learning, 25.7 % kept).

`--keep_prior auto` tells the two apart before the first step: the mean KL between the new
recordings' latents and what the prior predicts for their texts (the KL loss, nats a frame), on
up to PRIOR_FIT_CLIPS training clips, no gradient. Measured with the natural stand-in
(TRAINING_README "The recipe, and why"): its own voice 1.3; natural speakers it never heard
3.3-4.8 (one 7.8); espeak-ng voices 9.8-11.3.
"""

from __future__ import annotations

import numpy as np
import torch

from kurdish_tts.corpus.dataset import collate
from kurdish_tts.vits.generator import generator_forward
from kurdish_tts.vits.losses import loss_kl
from kurdish_tts.vits.voices import conditioning_layers

PRIOR_PARTS = ("text_encoder", "flow", "duration_predictor")  # trained by the KL and duration losses alone
KEEP_PRIOR_KL = 9.0  # auto keeps the prior below this fit (nats a frame): between natural speech and espeak-ng's
KEPT_PRIOR_EMA = 0.99  # --ema_decay when the prior is kept and the flag is not given
PRIOR_FIT_CLIPS = 64


def prior_fit(model, dataset, features, device, batch_size: int = 8) -> float:
    """The mean KL loss of up to PRIOR_FIT_CLIPS of `dataset`'s clips (spread over it) under `model`
    as it stands: eval mode, no gradient, a fixed noise seed, the caller's random state untouched."""
    count = min(PRIOR_FIT_CLIPS, len(dataset))
    indices = np.linspace(0, len(dataset) - 1, count).round().astype(int).tolist()
    total, frames = 0.0, 0.0
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())), torch.no_grad():
        torch.manual_seed(0)
        for start in range(0, count, batch_size):
            batch = collate([dataset[i] for i in indices[start:start + batch_size]]).to(device)
            out = generator_forward(model, batch, features)
            weight = float(out.frame_mask.sum())
            total += loss_kl(out.z_p, out.logs_q, out.m_p, out.logs_p, out.frame_mask).item() * weight
            frames += weight
    model.train(was_training)
    return total / frames


def decide(args, voices: list[str], fit) -> tuple[bool, str]:
    """(keep the prior?, why, in words). `fit()` measures prior_fit when --keep_prior auto needs it."""
    if args.keep_prior != "auto":
        return args.keep_prior == "yes", f"--keep_prior {args.keep_prior}"
    if args.init_config:
        return False, "random weights (--init_config): there is no prior to keep"
    if voices:
        return False, "data of several voices: their voices learn in the prior too"
    if {"posterior_encoder", "decoder"} <= set(args.freeze):
        return False, "--freeze leaves only the prior to train"
    kl = fit()
    kept = kl < KEEP_PRIOR_KL
    return kept, (f"the recordings' KL to the model's prior is {kl:.2f}, "
                  f"{'below' if kept else 'not below'} {KEEP_PRIOR_KL:g} (--keep_prior auto)")


def ema_decay(args, kept: bool) -> float:
    """--ema_decay, or its default: a moving average of the weights when the prior is kept. Its
    average starts at the pretrained model's weights and keeps some of them (after 100 updates 37 %,
    after 300 5 %): a voice that already reads the new speaker's speech gains by it (bench_finetune.py
    `default-ema`), a voice whose prior must learn loses by the lag (`ku+f3`: 14.5 % -> 17.4 % CER)."""
    if args.ema_decay is not None:
        return args.ema_decay
    return KEPT_PRIOR_EMA if kept else 0.0


def keep_prior(model, frozen: list[str] = ()) -> None:
    """Freeze the text encoder, duration predictor and flow; a multi-voice model's voice layers in
    them still learn (a voice is the embedding and the layers that feed it in), but for the parts
    `frozen` (--freeze) names."""
    for part in PRIOR_PARTS:
        getattr(model, part).requires_grad_(False)
    if model.config.num_speakers > 1:
        inside = {id(p) for part in PRIOR_PARTS if part not in frozen for p in getattr(model, part).parameters()}
        for layer in conditioning_layers(model):
            for parameter in layer.parameters():
                if id(parameter) in inside:
                    parameter.requires_grad_(True)
