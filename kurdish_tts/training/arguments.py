"""The training engine's flags, the rules between them, and the folders they name."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

import torch

from kurdish_tts.text.vocabulary import MMS_KURMANJI
from kurdish_tts.vits.objective import LossWeights

FREEZABLE = ("text_encoder", "duration_predictor", "flow", "posterior_encoder", "decoder")
# Steps of a fine-tune before the adversarial loss reaches the generator, which trains on the mel, KL
# and duration losses alone meanwhile: bench/bench_finetune.py, TRAINING_README "The recipe, and why".
WARMUP_STEPS = 600
# The decoder and posterior encoder (the vocoder side) train at this multiple of --learning_rate unless
# --acoustic_learning_rate says otherwise: a fine-tune's loss of intelligibility is the vocoder learning the
# new voice, and the faster it learns the sooner the voice speaks clearly again (bench_finetune.py's
# acoustic-fast, TRAINING_README "The recipe, and why"). With the prior kept (--keep_prior) there is no change of
# the prior for them to catch up with, and they learn at --learning_rate: at three times it they learn the
# recordings by heart sooner than the voice (bench_finetune.py's default-vocoder-1e-4).
ACOUSTIC_RATE_FACTOR = 3.0


def add_training_arguments(parser: argparse.ArgumentParser, *, defaults: dict | None = None) -> None:
    """Every flag of the training engine, in argparse groups; `defaults` overrides some defaults."""
    cuda = torch.cuda.is_available()
    data = parser.add_argument_group("data")
    data.add_argument("--data_dir", type=Path, default=Path("training"), help="holds wavs/, metadata.csv, metadata_eval.csv")
    model = parser.add_argument_group("model")
    model.add_argument("--model_name_or_path", default=MMS_KURMANJI, help="hub id or local model folder to start from")
    model.add_argument("--init_config", type=Path, help="start from random weights of this VitsConfig JSON instead "
                       "(its optional \"discriminator\" section sizes the discriminator)")
    model.add_argument("--discriminator", type=Path, help="Meta's D_100000.pth or a discriminator folder saved by this toolkit")
    model.add_argument("--discriminator_warmup_steps", type=int, default=WARMUP_STEPS,
                       help="steps before the discriminator drives the generator; meanwhile it trains on the "
                            "generator's audio (with a loaded --discriminator only under --warmup_generator "
                            "reconstruction)")
    model.add_argument("--warmup_generator", choices=["frozen", "reconstruction"], default="reconstruction",
                       help="what the generator does during the warm-up: trains on the mel, KL and duration losses "
                            "alone (reconstruction, the measured fine-tuning recipe) or waits (frozen)")
    model.add_argument("--layerdrop", type=float, default=0.0,
                       help="probability of skipping a text-encoder layer while training (the model config's own "
                            "value, 0.1 in MMS, is not used: dropping layers of a trained encoder unsettles a fine-tune)")
    model.add_argument("--freeze", nargs="+", choices=FREEZABLE, default=[], help="parts of the generator not to train")
    model.add_argument("--keep_prior", choices=["auto", "yes", "no"], default="auto",
                       help="keep the text encoder, duration predictor and flow as they are (the voice learns the "
                            "new speaker's sound, not how to read): auto keeps them when the new recordings fit the "
                            "model's prior already (a natural speaker), and lets them learn when they do not (a "
                            "voice unlike the model's, such as espeak-ng's), from --init_config, or on data that "
                            "names several voices")
    model.add_argument("--voice", help="with a multi-voice model and one-voice data: the voice (name or id) the data "
                                       "trains; data that names each clip's voice trains each clip as its voice")
    model.add_argument("--speaker_id", type=int, default=0, help="--voice as an id (kept for older commands)")
    model.add_argument("--speaker_embedding_size", type=int,
                       help="when data of several voices turns a one-voice model into a multi-voice one: the width of "
                            "a voice's embedding (default: the model's hidden size)")
    model.add_argument("--balance_voices", action="store_true",
                       help="with data of several voices: draw each voice's clips equally often, however many it has")
    weights = parser.add_argument_group("loss weights")
    for name, default in asdict(LossWeights()).items():
        weights.add_argument(f"--weight_{name}", type=float, default=default)
    optimisation = parser.add_argument_group("optimisation")
    optimisation.add_argument("--learning_rate", type=float, default=2e-5)
    optimisation.add_argument("--acoustic_learning_rate", type=float,
                              help="the learning rate of the decoder and posterior encoder "
                                   f"(default: {ACOUSTIC_RATE_FACTOR:g} x --learning_rate when fine-tuning a model "
                                   "with its prior learning, --learning_rate with the prior kept (--keep_prior) "
                                   "and from random weights, --init_config)")
    optimisation.add_argument("--discriminator_learning_rate", type=float,
                              help="the discriminator's learning rate (default: the decoder's, "
                                   "--acoustic_learning_rate)")
    optimisation.add_argument("--prior_learning_rate", type=float,
                              help="the learning rate of the parts only the KL and duration losses train: text "
                                   "encoder, flow, duration predictor (default: --learning_rate)")
    optimisation.add_argument("--lr_decay", type=float, default=0.999875, help="learning-rate factor per epoch")
    optimisation.add_argument("--lr_warmup_steps", type=int, default=0,
                              help="each network's learning rate rises linearly over its first N updates")
    optimisation.add_argument("--ema_decay", type=float,
                              help="keep an exponential moving average of the generator's weights (this decay per "
                                   "update, e.g. 0.99: the last ~100 updates) and save it as the model; 0: off "
                                   "(default: 0.99 when the prior is kept, see --keep_prior; else 0)")
    optimisation.add_argument("--batch_size", type=int, default=4)
    optimisation.add_argument("--gradient_accumulation_steps", type=int, default=4)
    optimisation.add_argument("--max_steps", type=int, default=None, help="optimiser steps (default: from --num_epochs)")
    optimisation.add_argument("--num_epochs", type=int, default=10)
    optimisation.add_argument("--max_grad_norm", type=float, default=5.0)
    optimisation.add_argument("--segment_frames", type=int, default=32, help="spectrogram frames decoded per clip and step")
    optimisation.add_argument("--seed", type=int, default=1234)
    checkpoints = parser.add_argument_group("checkpoints and output")
    checkpoints.add_argument("--output_dir", type=Path, default=Path("models/kurdish"))
    checkpoints.add_argument("--checkpoint_dir", type=Path, default=Path("training/checkpoints"))
    checkpoints.add_argument("--save_steps", type=int, default=500)
    checkpoints.add_argument("--save_total_limit", type=int, default=3,
                             help="checkpoints of this run kept (earliest steps removed first; other runs' are left alone)")
    checkpoints.add_argument("--resume", nargs="?", const="latest", help="continue from the latest checkpoint or a given one")
    runtime = parser.add_argument_group("runtime")
    runtime.add_argument("--mixed_precision", choices=["no", "fp16", "bf16"], default="fp16" if cuda else "no")
    runtime.add_argument("--eval_steps", type=int, default=500)
    runtime.add_argument("--logging_steps", type=int, default=10)
    runtime.add_argument("--logging_dir", type=Path, help="TensorBoard logs and samples/step-N/ (default: <output_dir>-runs)")
    runtime.add_argument("--dataloader_workers", type=int, default=2 if cuda else 0)
    runtime.add_argument("--max_nonfinite_steps", type=int, default=5, help="optimiser steps in a row spoilt by a non-finite loss that stop the run")
    if defaults:
        parser.set_defaults(**defaults)


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Rules between flags, as parser errors (exit 2)."""
    if args.mixed_precision == "fp16" and not torch.cuda.is_available():
        parser.error("--mixed_precision fp16 needs a CUDA GPU; use bf16 or no on the CPU")
    for name in ("batch_size", "gradient_accumulation_steps", "save_steps", "eval_steps", "logging_steps",
                 "segment_frames", "save_total_limit", "max_nonfinite_steps"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.max_steps is not None and args.max_steps < 1:
        parser.error("--max_steps must be at least 1")
    if args.ema_decay is not None and not 0.0 <= args.ema_decay < 1.0:
        parser.error(f"--ema_decay {args.ema_decay:g}: give 0 (off) or a decay below 1, such as 0.99")
    if args.lr_warmup_steps < 0:
        parser.error("--lr_warmup_steps must be 0 (no ramp) or more")
    if args.speaker_embedding_size is not None and args.speaker_embedding_size < 1:
        parser.error("--speaker_embedding_size must be at least 1")
    if args.voice is not None and args.speaker_id:
        parser.error("--voice and --speaker_id both pick the voice: give one")
    if args.keep_prior == "yes" and args.init_config:
        parser.error("--keep_prior yes keeps a trained prior: random weights (--init_config) have none to keep")
    if args.keep_prior == "yes" and {"posterior_encoder", "decoder"} <= set(args.freeze):
        parser.error("--keep_prior yes with --freeze posterior_encoder decoder leaves nothing to train: give one up")
    if not 0.0 <= args.layerdrop < 1.0:
        parser.error("--layerdrop is a probability: give a value from 0 up to (not including) 1")
    for name in ("learning_rate", "acoustic_learning_rate", "discriminator_learning_rate", "prior_learning_rate"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            parser.error(f"--{name} must be above 0")


def learning_rates(args, prior_kept: bool = False) -> dict[str, float]:
    """The rates the run uses, the defaults filled in: the decoder and posterior encoder ("acoustic"),
    the text encoder, flow and duration predictor ("prior"), the discriminator (the decoder's rate, as
    VITS trains the two at one rate). `prior_kept`: what --keep_prior decided."""
    # one rate from random weights, as VITS trains, and with the prior kept; a faster vocoder when the prior learns
    factor = 1.0 if args.init_config or prior_kept else ACOUSTIC_RATE_FACTOR
    acoustic = args.acoustic_learning_rate or factor * args.learning_rate
    return {"acoustic": acoustic, "prior": args.prior_learning_rate or args.learning_rate,
            "discriminator": args.discriminator_learning_rate or acoustic}


def describe_rates(args, prior_kept: bool = False) -> str:
    """The rates of learning_rates(args, prior_kept) in words, as the run's header and the model card give them."""
    rate = learning_rates(args, prior_kept)
    return (f"decoder and posterior encoder {rate['acoustic']:g}, text encoder, flow and duration predictor "
            f"{rate['prior']:g}, discriminator {rate['discriminator']:g}")
