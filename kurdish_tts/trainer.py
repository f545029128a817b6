"""The VITS training engine shared by `train_vits.py` and `train_feedback.py`.

`add_training_arguments` declares every flag; `train(args, ...)` runs a whole training:
check the data, load the generator (a local or hub model, or random weights from a config)
and a discriminator, then alternate discriminator and generator updates through
`accelerate` (mixed precision, gradient accumulation, multi-GPU), with atomic resumable
checkpoints, evaluation with audio samples and pictures, and a plain `transformers` model
folder at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import tempfile
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from kurdish_tts import checkpoint, evaluation, hub
from kurdish_tts.checkpoint import data_fingerprint, run_settings
from kurdish_tts.dataset import LengthBucketSampler, TtsDataset, collate
from kurdish_tts.discriminator import (CONFIG_FILE as DISCRIMINATOR_CONFIG_FILE, DiscriminatorConfig, VitsDiscriminator,
                                       load_discriminator, save_discriminator)
from kurdish_tts.features import FeatureConfig
from kurdish_tts.metadata import EVAL_FILE, TRAIN_FILE, Clip, check_clips, read_metadata, replace_folder, too_short
from kurdish_tts.objective import LossWeights, compute_losses
from kurdish_tts.synthesis import Settings, Voice
from kurdish_tts.text import normalize_text
from kurdish_tts.vocabulary import MMS_KURMANJI, Vocabulary, build_tokenizer, builtin_vocabulary, mms_vocabulary
from kurdish_tts.weights import add_decoder_weight_norm, initialize_like_vits, plain_state_dict, train_every_token

FREEZABLE = ("text_encoder", "duration_predictor", "flow", "posterior_encoder", "decoder")
CHECKPOINT_PREFIX = "checkpoint-"
# Fixed sentences spoken at every evaluation, so that samples from different steps compare.
EVAL_SENTENCES = [
    "Rojbaş, ez bi kurdî diaxivim.",
    "Ez 25 salî me û li Amedê dijîm.",
    "Hewa îro pir xweş e, em ê herin baxçe.",
]
# Short names on the progress bar: the discriminator's mean score on real and on generated audio, gradient norms.
# The weighted sums each network minimises are G and D; the parts keep their loss names without "loss_".
BAR_NAMES = {"score_real": "real", "score_fake": "fake", "grad_norm_g": "|grad_g|", "grad_norm_d": "|grad_d|",
             "generator_total": "G", "discriminator_total": "D"}
EVAL_SCORED_CLIPS = 8  # held-out clips spoken and scored (MCD-DTW, duration ratio) at each evaluation
MMS_LICENSE = ("cc-by-nc-4.0", "This model is fine-tuned from Meta's MMS text-to-speech model and inherits its "
               "licence, CC BY-NC 4.0 (non-commercial use only).")


class TrainingError(RuntimeError):
    """A problem the user can fix: one line, no traceback."""


class TrainingInterrupted(RuntimeError):
    """Stopped by Ctrl-C or SIGTERM after saving a checkpoint."""


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
    model.add_argument("--discriminator_warmup_steps", type=int, default=200,
                       help="steps that train a fresh discriminator alone before it drives the generator")
    model.add_argument("--layerdrop", type=float, default=0.0,
                       help="probability of skipping a text-encoder layer while training (the model config's own "
                            "value, 0.1 in MMS, is not used: dropping layers of a trained encoder unsettles a fine-tune)")
    model.add_argument("--freeze", nargs="+", choices=FREEZABLE, default=[], help="parts of the generator not to train")
    model.add_argument("--speaker_id", type=int, default=0,
                       help="with a multi-speaker model: the speaker whose embedding the data trains (the data is one voice)")
    weights = parser.add_argument_group("loss weights")
    for name, default in asdict(LossWeights()).items():
        weights.add_argument(f"--weight_{name}", type=float, default=default)
    optimisation = parser.add_argument_group("optimisation")
    optimisation.add_argument("--learning_rate", type=float, default=2e-5)
    optimisation.add_argument("--discriminator_learning_rate", type=float,
                              help="the discriminator's learning rate (default: --learning_rate)")
    optimisation.add_argument("--prior_learning_rate", type=float,
                              help="the learning rate of the parts only the KL and duration losses train: text "
                                   "encoder, flow, duration predictor (default: --learning_rate)")
    optimisation.add_argument("--lr_decay", type=float, default=0.999875, help="learning-rate factor per epoch")
    optimisation.add_argument("--lr_warmup_steps", type=int, default=0,
                              help="each network's learning rate rises linearly over its first N updates")
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
    if args.lr_warmup_steps < 0:
        parser.error("--lr_warmup_steps must be 0 (no ramp) or more")
    if not 0.0 <= args.layerdrop < 1.0:
        parser.error("--layerdrop is a probability: give a value from 0 up to (not including) 1")
    for name in ("learning_rate", "discriminator_learning_rate", "prior_learning_rate"):
        if getattr(args, name) is not None and not getattr(args, name) > 0:
            parser.error(f"--{name} must be above 0")


# --- what a training run keeps between steps ------------------------------------------------

@dataclass
class Progress:
    """Counters saved in every checkpoint, so that a resumed run continues exactly."""

    run_id: str = ""  # the same for every checkpoint of one run, resumes included
    step: int = 0  # optimiser steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # micro-batches of this epoch already consumed
    nonfinite_in_a_row: int = 0
    nonfinite_total: int = 0
    history: list = field(default_factory=list)  # [step, metrics] every logging interval

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


@dataclass
class Run:
    """Everything the loop works with."""

    args: argparse.Namespace
    accelerator: object
    model: torch.nn.Module
    discriminator: torch.nn.Module
    tokenizer: object
    vocabulary: Vocabulary
    optimizer_g: torch.optim.Optimizer
    optimizer_d: torch.optim.Optimizer
    scheduler_g: object
    scheduler_d: object
    features: FeatureConfig
    weights: LossWeights
    dataset: TtsDataset
    sampler: LengthBucketSampler
    eval_dataset: TtsDataset | None
    progress: Progress
    discriminator_loaded: bool  # loaded from a trained checkpoint: no warm-up needed
    discriminator_origin: str = ""  # where its weights or, for a fresh one, its widths come from
    spoilt_step: bool = False  # a micro-batch of the current optimiser step had a non-finite loss
    settings: dict = field(default_factory=dict)  # what a checkpoint records and a resume must match
    record: dict = field(default_factory=dict)  # the caller's own record, kept in every checkpoint
    writer: object = None

    @property
    def speaker(self) -> int | None:
        """The speaker the data trains: --speaker_id for a multi-speaker model, None for a one-voice one."""
        return trained_speaker(self.args, self.model.config)

    @property
    def generator_start(self) -> int:
        """The step from which the generator trains: after a fresh discriminator's warm-up, at once
        beside a loaded one."""
        return 0 if self.discriminator_loaded else self.args.discriminator_warmup_steps

    @property
    def generator_parameters(self) -> list:
        return [p for p in self.model.parameters() if p.requires_grad]


# --- loading --------------------------------------------------------------------------------

def load_generator_source(args) -> tuple[object, Vocabulary, DiscriminatorConfig | None]:
    """(VitsConfig, vocabulary, discriminator config from --init_config) without loading any weights."""
    from transformers import VitsConfig

    if args.init_config:
        if not args.init_config.is_file():
            raise TrainingError(f"--init_config {args.init_config} not found")
        try:
            values = json.loads(args.init_config.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise TrainingError(f"--init_config {args.init_config} is not valid JSON ({e})") from e
        discriminator = values.pop("discriminator", None)
        vocabularies = {"builtin": builtin_vocabulary, "mms": mms_vocabulary}
        choice = values.pop("vocabulary", "builtin")
        if choice not in vocabularies:
            raise TrainingError(f"--init_config {args.init_config}: vocabulary {choice!r} is unknown: use "
                                f"\"builtin\" (its own blank) or \"mms\" (MMS Kurmanji's ids)")
        config = VitsConfig(**values)
        vocabulary = vocabularies[choice]()
        if config.vocab_size < len(vocabulary.token_to_id):
            raise TrainingError(f"{args.init_config}: vocab_size {config.vocab_size} is below the "
                                f"{len(vocabulary.token_to_id)} tokens of the {choice} vocabulary")
        try:
            widths = DiscriminatorConfig.from_dict(discriminator) if discriminator else None
        except (ValueError, TypeError) as e:
            raise TrainingError(f"--init_config {args.init_config}: its \"discriminator\" section: {e}") from e
        return config, vocabulary, widths
    source = str(args.model_name_or_path)
    try:
        hub.require(source)
    except hub.HubUnreachable as e:
        raise TrainingError(f"{e} (for example --model_name_or_path models/kurdish, or --init_config configs/tiny.json)") from e
    local = Path(source)
    if local.exists() and not (local / "config.json").is_file():
        raise TrainingError(f"{local} is not a model folder (no config.json)")
    config = VitsConfig.from_pretrained(source)
    from transformers import VitsTokenizer

    tokenizer = VitsTokenizer.from_pretrained(source)
    return config, Vocabulary(dict(tokenizer.get_vocab()), source), None


def build_run(args, train_clips: list[Clip], eval_clips: list[Clip], weights: list[float] | None) -> Run:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import set_seed
    from transformers import VitsModel, VitsTokenizer
    from transformers.utils.logging import disable_progress_bar

    disable_progress_bar()  # the training bar is the one to watch
    config, vocabulary, discriminator_config = load_generator_source(args)
    # Check the data before any weights are loaded: a bad clip should cost seconds, not minutes.
    check_clips(args.data_dir, train_clips, config.sampling_rate, vocabulary.characters)
    if eval_clips:
        check_clips(args.data_dir, eval_clips, config.sampling_rate, vocabulary.characters, metadata_name=EVAL_FILE)

    if not 0 <= args.speaker_id < config.num_speakers:
        raise TrainingError(f"--speaker_id {args.speaker_id}: the model has {config.num_speakers} speaker"
                            f"{'s' if config.num_speakers > 1 else ''} (ids 0 to {config.num_speakers - 1})")
    tokenizer = build_tokenizer(vocabulary) if args.init_config else VitsTokenizer.from_pretrained(str(args.model_name_or_path))
    features = FeatureConfig.from_model_config(config)

    def dataset_of(clips):  # a multi-speaker model learns every clip as --speaker_id
        speaker = trained_speaker(args, config)
        speakers = None if speaker is None else [speaker] * len(clips)
        return TtsDataset(args.data_dir, clips, tokenizer, config.sampling_rate, features.hop_length, speakers)

    dataset = dataset_of(train_clips)
    eval_dataset = dataset_of(eval_clips) if eval_clips else None
    for data in filter(None, (dataset, eval_dataset)):
        check_alignable(data, features.hop_length)

    # One process may train several times (tests, a feedback round after a first run): start from a clean state.
    AcceleratorState._reset_state()
    GradientState._reset_state()
    accelerator = Accelerator(mixed_precision=args.mixed_precision,
                              gradient_accumulation_steps=args.gradient_accumulation_steps)
    set_seed(args.seed)
    if set(args.freeze) == set(FREEZABLE):
        raise TrainingError("--freeze names every part of the generator: leave at least one part to train")
    if args.init_config:
        model = VitsModel(config)
        initialize_like_vits(model)
    else:
        model = VitsModel.from_pretrained(str(args.model_name_or_path))
    if "decoder" not in args.freeze:  # before the optimiser and any checkpoint: their parameters are weight-normed
        add_decoder_weight_norm(model)
    train_every_token(model)
    for name in args.freeze:
        getattr(model, name).requires_grad_(False)
    model.text_encoder.encoder.layerdrop = args.layerdrop  # the module's copy: the saved config keeps its value
    if args.discriminator:
        try:
            discriminator = load_discriminator(args.discriminator, discriminator_config)
        except (ValueError, FileNotFoundError) as e:  # not found, or not this layout: one line
            raise TrainingError(f"--discriminator: {e}") from e
        origin = f"loaded from {args.discriminator}"
    else:
        fresh, origin = fresh_discriminator_config(args, config, discriminator_config)
        discriminator = VitsDiscriminator(fresh)
    sampler = LengthBucketSampler(dataset.samples, args.batch_size, seed=args.seed, weights=weights)

    betas, eps = (0.8, 0.99), 1e-9
    optimizer_g = torch.optim.AdamW(generator_groups(model, args), args.learning_rate, betas=betas, eps=eps)
    optimizer_d = torch.optim.AdamW(discriminator.parameters(), args.discriminator_learning_rate or args.learning_rate,
                                    betas=betas, eps=eps)
    scheduler_g = torch.optim.lr_scheduler.ExponentialLR(optimizer_g, gamma=args.lr_decay)
    scheduler_d = torch.optim.lr_scheduler.ExponentialLR(optimizer_d, gamma=args.lr_decay)
    # The networks are not wrapped for DistributedDataParallel: the training forward calls VitsModel's parts,
    # not its forward (which only synthesises), so `apply_updates` averages the gradients itself.
    model, discriminator = model.to(accelerator.device), discriminator.to(accelerator.device)
    optimizer_g, optimizer_d = accelerator.prepare(optimizer_g, optimizer_d)
    progress = Progress()  # checkpoints keep it, the weights and the schedules themselves (kurdish_tts/checkpoint.py)
    loss_weights = LossWeights(args.weight_mel, args.weight_kl, args.weight_duration, args.weight_fm, args.weight_gen,
                               args.weight_disc)
    return Run(args, accelerator, model, discriminator, tokenizer, vocabulary, optimizer_g, optimizer_d, scheduler_g,
               scheduler_d, features, loss_weights, dataset, sampler, eval_dataset, progress,
               discriminator_loaded=args.discriminator is not None, discriminator_origin=origin,
               settings=run_settings(args, data_fingerprint(train_clips, dataset.samples, weights)))


PRIOR_PARTS = ("text_encoder", "flow", "duration_predictor")  # trained by the KL and duration losses alone


def generator_groups(model, args) -> list[dict]:
    """The generator's trainable parameters as optimiser groups: one, or with --prior_learning_rate
    the text encoder, flow and duration predictor in a group of their own. Those parts get no
    gradient from the mel or adversarial losses, and Adam's step does not grow with a loss's
    weight, so only their learning rate sets how fast they learn; the decoder's is bounded by the
    adversarial game."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if args.prior_learning_rate is None:
        return [{"params": trainable}]
    prior = {id(p) for part in PRIOR_PARTS for p in getattr(model, part).parameters()}
    return [group for group in ({"params": [p for p in trainable if id(p) in prior], "lr": args.prior_learning_rate},
                                {"params": [p for p in trainable if id(p) not in prior]}) if group["params"]]


def fresh_discriminator_config(args, config, from_init_config: DiscriminatorConfig | None) -> tuple[DiscriminatorConfig, str]:
    """The widths of a fresh discriminator, and a phrase that says where they come from: the
    --init_config's "discriminator" section; else the config of a discriminator saved with the
    model (`<model>-discriminator/`, as train_vits.py saves it, or `discriminator/` beside a
    `model/` folder, as data/pretrained/ holds it); else Meta's layout scaled with the generator's
    decoder, so that a small generator does not train against a 47 M-parameter discriminator."""
    if from_init_config is not None:
        return from_init_config, f"widths from {args.init_config}"
    model = Path(str(args.model_name_or_path))
    if not args.init_config and model.is_dir():
        for folder in (discriminator_folder(model), model.parent / "discriminator"):
            saved = folder / DISCRIMINATOR_CONFIG_FILE
            if saved.is_file():
                try:
                    values = json.loads(saved.read_text(encoding="utf-8"))
                    return DiscriminatorConfig.from_dict(values), f"widths of {saved}"
                except (json.JSONDecodeError, ValueError, TypeError) as e:
                    raise TrainingError(f"{saved} is not a discriminator config ({e}); remove it or pass "
                                        f"--discriminator") from e
    channels = config.upsample_initial_channel
    scaled = DiscriminatorConfig.scaled_to(channels)
    layout = "Meta's layout" if scaled == DiscriminatorConfig() else "Meta's layout scaled"
    return scaled, f"{layout} for a decoder of {channels} channels"


def trained_speaker(args, config) -> int | None:
    return args.speaker_id if config.num_speakers > 1 else None


def check_alignable(dataset: TtsDataset, hop_length: int, show: int = 3) -> None:
    """Every token needs at least one spectrogram frame: audio too short for its text cannot be aligned."""
    short = [clip.file for clip, samples in zip(dataset.clips, dataset.samples)
             if too_short(samples, len(dataset.tokenizer(clip.text).input_ids), hop_length)]
    if short:
        raise TrainingError(f"{len(short)} clips are too short for their text (fewer frames than tokens): "
                            f"{', '.join(short[:show])}; remove them from the metadata or re-run prepare_data.py")


# --- checkpoints ------------------------------------------------------------------------------

def list_checkpoints(folder: Path, run_id: str | None = None) -> list[Path]:
    """The checkpoints in `folder` by step (only those of run `run_id` when it is given)."""
    found = [p for p in Path(folder).glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and p.name[len(CHECKPOINT_PREFIX):].isdigit()]
    if run_id is not None:
        found = [p for p in found if checkpoint_record(p).get("run") == run_id]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def checkpoint_record(path: Path) -> dict:
    """A checkpoint's progress.json: step, epoch, run (its run's id) and saved (a Unix time)."""
    try:
        return json.loads((path / "progress.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint saved last, whatever its step: a folder may also hold an earlier run's."""
    found = list_checkpoints(folder)
    return max(found, key=lambda p: checkpoint_record(p).get("saved", p.stat().st_mtime)) if found else None


def remove_run_checkpoints(folder: Path, run_id: str) -> None:
    for path in list_checkpoints(folder, run_id):
        shutil.rmtree(path)


def resolve_resume(args) -> Path | None:
    if not args.resume:
        return None
    if args.resume == "latest":
        found = latest_checkpoint(args.checkpoint_dir)
        if found is None:
            raise TrainingError(f"--resume: no checkpoint in {args.checkpoint_dir}; train without --resume to start fresh")
        return found
    path = Path(args.resume)
    if not (path / "progress.json").is_file():
        raise TrainingError(f"--resume {path}: not a checkpoint folder made by this toolkit")
    return path


def save_checkpoint(run: Run) -> Path:
    """Write the whole training state to `checkpoint-<step>`: into a temporary folder, renamed when complete."""
    args, accelerator = run.args, run.accelerator
    target = args.checkpoint_dir / f"{CHECKPOINT_PREFIX}{run.progress.step}"
    if accelerator.is_main_process:
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    tmp = args.checkpoint_dir / f".tmp-{CHECKPOINT_PREFIX}{run.progress.step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))  # the optimisers, the gradient scaler, every process's random states
    if accelerator.is_main_process:
        checkpoint.save_state(tmp, run.model, run.discriminator, [run.scheduler_g, run.scheduler_d],
                              run.progress.state_dict(), run.settings, run.record)
        save_model_folder(run, tmp / "model")
        record = {"step": run.progress.step, "epoch": run.progress.epoch, "run": run.progress.run_id, "saved": time.time()}
        (tmp / "progress.json").write_text(json.dumps(record), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        for old in list_checkpoints(args.checkpoint_dir, run.progress.run_id)[: -args.save_total_limit]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return target


def save_model_folder(run: Run, folder: Path, card: str | None = None) -> None:
    """A plain `transformers` model folder: config, safetensors weights, tokenizer, model card."""
    folder.mkdir(parents=True, exist_ok=True)
    run.model.save_pretrained(folder, state_dict=plain_state_dict(run.model), safe_serialization=True)
    run.tokenizer.save_pretrained(folder)
    (folder / "README.md").write_text(card or model_card(run), encoding="utf-8")


def model_licence(args) -> tuple[str | None, str]:
    """(licence id for the card's front matter, or None; a sentence for its Licence section): what the
    model came from decides it. MMS passes on CC BY-NC 4.0; a local model folder passes on the licence
    its own card names; weights from a config come from no other model."""
    if args.init_config:
        return None, (f"Trained from random weights (`{args.init_config}`): no other model's licence applies; "
                      "the training data's licence does.")
    source = Path(str(args.model_name_or_path))
    if not source.is_dir():
        return MMS_LICENSE if str(args.model_name_or_path) == MMS_KURMANJI else (
            None, f"Fine-tuned from `{args.model_name_or_path}`: its licence applies.")
    card = (source / "README.md").read_text(encoding="utf-8") if (source / "README.md").is_file() else ""
    front = card.split("---")[1] if card.startswith("---") else ""
    licence = next((line.split(":", 1)[1].strip() for line in front.splitlines() if line.startswith("license:")), None)
    named = f" ({licence})" if licence else " (see the README.md of that folder)"
    return licence, f"Fine-tuned from the model in `{source}` and under its licence{named}."


def model_card(run: Run) -> str:
    args = run.args
    base = f"random weights of `{args.init_config}`" if args.init_config else f"`{args.model_name_or_path}`"
    data = json.loads((args.data_dir / "dataset.json").read_text(encoding="utf-8")) if (args.data_dir / "dataset.json").is_file() else {}
    hours = f"{data.get('hours_after', 0):.2f} h" if data else "unknown"
    licence, licence_note = model_licence(args)
    front = f"license: {licence}\n" if licence else ""
    return f"""---
{front}language: kmr
pipeline_tag: text-to-speech
tags: [vits, mms, kurmanji, kurdish]
---

# Kurmanji Kurdish VITS voice

A VITS text-to-speech model for Kurmanji Kurdish (Latin script), trained from {base}
for {run.progress.step} optimiser steps on {len(run.dataset)} clips ({hours}) with full VITS training
(alignment search, duration, KL, mel, adversarial and feature-matching losses).

- learning rate {args.learning_rate}, batch {args.batch_size} x {args.gradient_accumulation_steps} accumulation,
  mixed precision `{args.mixed_precision}`, frozen: {", ".join(args.freeze) or "nothing"}
- loss weights: mel {args.weight_mel}, KL {args.weight_kl}, duration {args.weight_duration},
  feature matching {args.weight_fm}, adversarial {args.weight_gen}

```python
from transformers import pipeline
speak = pipeline("text-to-speech", model="path/to/this/folder")
```

Normalise text first (numbers spelled out): `synthesize.py` in the toolkit does it.

## Licence

{licence_note}
"""


def save_final(run: Run) -> Path:
    """The final model folder (atomically replaced) and the discriminator beside it."""
    args = run.args
    output = args.output_dir
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}."))
    save_model_folder(run, tmp)
    plot_loss_curve(run.progress.history, tmp / "loss_curve.png")
    (tmp / "loss_history.json").write_text(json.dumps(run.progress.history), encoding="utf-8")
    replace_folder(tmp, output)
    save_discriminator(run.discriminator, discriminator_folder(output))
    return output


def logging_dir(args) -> Path:
    """TensorBoard logs and evaluation samples: --logging_dir, or `<output_dir>-runs` beside the model."""
    return args.logging_dir or args.output_dir.with_name(f"{args.output_dir.name}-runs")


def discriminator_folder(output_dir: Path) -> Path:
    return output_dir.with_name(f"{output_dir.name}-discriminator")


# --- the loop ---------------------------------------------------------------------------------

def train_step(run: Run, batch) -> dict[str, float] | None:
    """One micro-batch: losses, backward passes, and (when accumulation is complete) the updates.

    A fresh discriminator trains alone during its warm-up: the generator is not updated.
    A non-finite loss spoils its whole optimiser step: the gradients gathered so far are dropped,
    the step's remaining micro-batches are passed over, and nothing is updated. Returns the
    metrics of the micro-batch, or None when its step is spoilt.
    """
    args, accelerator = run.args, run.accelerator
    warming_up = run.progress.step < run.generator_start
    with accelerator.accumulate(run.model, run.discriminator):  # counts the micro-batch, even one passed over
        if run.spoilt_step:
            if accelerator.sync_gradients:
                run.spoilt_step = False
            return None
        with accelerator.autocast():
            loss_g, loss_d, metrics, _ = compute_losses(run.model, run.discriminator, batch, run.features, run.weights,
                                                        args.segment_frames, adversarial=not warming_up)
        finite = math.isfinite(metrics["generator_total"]) and math.isfinite(metrics["discriminator_total"])
        if accelerator.num_processes > 1:  # every process skips, or none: the gradient averaging must meet
            finite = bool(accelerator.reduce(torch.tensor(float(not finite), device=accelerator.device)) == 0)
        if not finite:
            run.optimizer_g.zero_grad(set_to_none=True)
            run.optimizer_d.zero_grad(set_to_none=True)
            run.spoilt_step = not accelerator.sync_gradients  # the rest of this step is passed over
            return None
        update_generator = not warming_up and bool(run.generator_parameters)
        accelerator.backward(loss_d, inputs=list(run.discriminator.parameters()), retain_graph=update_generator)
        if update_generator:
            accelerator.backward(loss_g, inputs=run.generator_parameters)
        if accelerator.sync_gradients:
            metrics.update(apply_updates(run, update_generator))
        # accelerate's optimisers clear gradients only when they sync: between the micro-batches of
        # one step these calls do nothing, and the gradients add up
        run.optimizer_d.zero_grad(set_to_none=True)
        run.optimizer_g.zero_grad(set_to_none=True)
    metrics["warmup"] = float(warming_up)
    return metrics


def apply_updates(run: Run, update_generator: bool) -> dict[str, float]:
    """Average the gradients across processes, clip them and step, once per accumulated batch;
    -> each network's gradient norm before clipping (grad_norm_d, and grad_norm_g when it trains).

    Under fp16 the one gradient scaler unscales each optimiser once, steps both, and only then
    updates its scale: stepping through accelerate's optimisers would update the scale between
    the two steps and unscale twice.
    """
    scaler = run.accelerator.scaler
    updates = [(run.optimizer_d.optimizer, list(run.discriminator.parameters()))]
    if update_generator:
        updates.append((run.optimizer_g.optimizer, run.generator_parameters))
    norms = {}
    for (optimizer, parameters), name in zip(updates, ("grad_norm_d", "grad_norm_g")):
        average_gradients(run.accelerator, parameters)
        if scaler is not None:
            scaler.unscale_(optimizer)
        norms[name] = float(torch.nn.utils.clip_grad_norm_(parameters, run.args.max_grad_norm))
    ramps = warmup_factors(run)
    for (optimizer, _), ramp in zip(updates, ramps):
        scheduled = [group["lr"] for group in optimizer.param_groups]
        for group in optimizer.param_groups:  # the schedule's rate, scaled for this update only
            group["lr"] *= ramp
        if scaler is not None:
            scaler.step(optimizer)  # skipped when the unscaled gradients are not finite
        else:
            optimizer.step()
        for group, rate in zip(optimizer.param_groups, scheduled):
            group["lr"] = rate
    if scaler is not None:
        scaler.update()
    return norms


def warmup_factors(run: Run) -> tuple[float, float]:
    """(discriminator, generator) learning-rate factors of this update under --lr_warmup_steps: each
    network's rate rises linearly over its first N updates (the generator's begin after the
    discriminator's warm-up). Adam's first steps move every weight by the full rate whatever the
    gradient; a ramp keeps them from jolting a trained voice. Computed from the step, so a resumed
    run goes on with the same ramp."""
    steps = run.args.lr_warmup_steps
    if steps <= 0:
        return 1.0, 1.0
    step = run.progress.step  # updates done before this one
    return min(1.0, (step + 1) / steps), min(1.0, max(1, step - run.generator_start + 1) / steps)


def average_gradients(accelerator, parameters: list[torch.Tensor]) -> None:
    """Replace each gradient by its mean over the processes (one collective for all of them)."""
    gradients = [p.grad for p in parameters if p.grad is not None]
    if accelerator.num_processes == 1 or not gradients:
        return
    mean = accelerator.reduce(torch.cat([g.reshape(-1) for g in gradients]), reduction="mean")
    for gradient, part in zip(gradients, torch.split(mean, [g.numel() for g in gradients])):
        gradient.copy_(part.view_as(gradient))


def epoch_batches(run: Run) -> list[list[int]]:
    """This process's share of the epoch's batches, from the current position on."""
    run.sampler.set_epoch(run.progress.epoch)
    batches = run.sampler.batches()
    share = run.accelerator.num_processes
    batches = batches[: len(batches) // share * share][run.accelerator.process_index::share] if share > 1 else batches
    return batches[run.progress.batch_in_epoch:]


def step_schedulers(run: Run) -> None:
    """The learning rates decay once an epoch; the generator's only once it trains.

    PyTorch warns when a scheduler steps before its optimizer has stepped in this process. That
    happens rightly after a resume at the end of an epoch (the epoch's decay comes first), and
    after a first fp16 step skipped for overflow: the order over the whole run is right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`")
        if run.discriminator_loaded or run.progress.step > run.generator_start:
            run.scheduler_g.step()
        run.scheduler_d.step()


def epochs_to_steps(run: Run, epochs: int) -> int:
    """Optimiser steps that take `epochs` passes over the data (at least that many). Gradient
    accumulation runs on across the end of an epoch, so the micro-batches of all epochs count."""
    run.sampler.set_epoch(0)
    batches = len(run.sampler.batches()) // max(1, run.accelerator.num_processes)
    return max(1, math.ceil(epochs * batches / run.args.gradient_accumulation_steps))


class StopSignal:
    """Turns Ctrl-C and SIGTERM into a flag the loop checks between steps."""

    def __init__(self):
        self.received: int | None = None
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[sig] = signal.signal(sig, self.handle)
            except ValueError:  # not the main thread: signals stay with the caller
                pass
        return self

    def handle(self, sig, frame):
        self.received = sig

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def train(args: argparse.Namespace, train_clips: list[Clip] | None = None, eval_clips: list[Clip] | None = None,
          weights: list[float] | None = None, record: dict | None = None) -> Path:
    """Train and return the saved model folder. Raises TrainingError (user-fixable) or TrainingInterrupted.
    `record` (JSON values) goes into every checkpoint: `checkpoint.read_record` gives it back before a resume."""
    if train_clips is None:
        train_clips = read_metadata(args.data_dir / TRAIN_FILE)
    if eval_clips is None and (args.data_dir / EVAL_FILE).is_file():
        eval_clips = read_metadata(args.data_dir / EVAL_FILE)
    resume_from = resolve_resume(args)
    run = build_run(args, train_clips, eval_clips or [], weights)
    run.record = record or {}
    accelerator = run.accelerator
    notices = resume(run, resume_from) if resume_from is not None else []
    run.progress.run_id = run.progress.run_id or uuid.uuid4().hex  # kept by a resume
    total_steps = args.max_steps or epochs_to_steps(run, args.num_epochs)
    from torch.utils.tensorboard import SummaryWriter

    if accelerator.is_main_process:
        run.writer = SummaryWriter(str(logging_dir(args)))
        print_header(run, total_steps, resume_from)
        for notice in notices:
            print(f"notice: {notice}")
    bar = tqdm(total=total_steps, initial=run.progress.step, unit="step", dynamic_ncols=True,
               disable=not accelerator.is_main_process)
    started, start_step = time.perf_counter(), run.progress.step
    with StopSignal() as stop:
        while run.progress.step < total_steps:
            loader = torch.utils.data.DataLoader(run.dataset, batch_sampler=epoch_batches(run), collate_fn=collate,
                                                 num_workers=args.dataloader_workers,
                                                 generator=torch.Generator())  # leaves the global RNG alone
            run.model.train()
            run.discriminator.train()
            for batch in loader:
                metrics = train_step(run, batch.to(accelerator.device))
                run.progress.batch_in_epoch += 1
                if not accelerator.sync_gradients:  # inside an accumulated step
                    continue
                if metrics is None:  # the step was spoilt by a non-finite loss: nothing was updated
                    handle_nonfinite(run)
                    continue
                run.progress.nonfinite_in_a_row = 0
                run.progress.step += 1
                bar.update(1)
                after_step(run, metrics, bar)
                if stop.received is not None:
                    path = save_checkpoint(run)
                    bar.close()
                    raise TrainingInterrupted(f"stopped at step {run.progress.step}; checkpoint saved to {path}; "
                                              f"continue with --resume")
                if run.progress.step >= total_steps:
                    break
            else:
                run.progress.epoch += 1
                run.progress.batch_in_epoch = 0
                step_schedulers(run)
    bar.close()
    if run.progress.step % args.save_steps:
        save_checkpoint(run)
    output = None
    if accelerator.is_main_process:
        output = save_final(run)
        elapsed = time.perf_counter() - started
        skipped = run.progress.nonfinite_total
        print(f"trained {run.progress.step - start_step} steps in {elapsed / 60:.1f} min"
              + (f" ({skipped} optimiser steps skipped for non-finite losses)" if skipped else "")
              + f"; model saved to {output}; "
              f"discriminator to {discriminator_folder(output)}")
        run.writer.close()
    accelerator.wait_for_everyone()
    return args.output_dir


def resume(run: Run, folder: Path) -> list[str]:
    """Load a checkpoint into the run after checking that it is this run's (same settings, same data)
    and that nothing in it would run code; -> notices about harmless changes."""
    try:
        checkpoint.check_accelerate_files(folder)
        weights, schedules, progress, settings = checkpoint.read_state(folder)
        notices = (checkpoint.compare_settings(settings, run.settings, folder) if settings is not None else
                   [f"{folder} was saved before checkpoints recorded their settings: they are not checked"])
        checkpoint.apply_state(folder, weights, schedules, run.model, run.discriminator,
                               [run.scheduler_g, run.scheduler_d])
    except checkpoint.CheckpointError as e:
        raise TrainingError(str(e)) from e
    run.progress.load_state_dict(progress)
    # The optimisers, the scaler, every process's random states (checked above), and accelerate's count of
    # micro-batches, which decides where accumulated steps end. Its loader directly: Accelerator.load_state
    # refuses a folder with the pickles of older checkpoints, which it no longer loads.
    from accelerate.checkpointing import load_accelerator_state

    accelerator = run.accelerator
    restored = load_accelerator_state(str(folder), [], [run.optimizer_g, run.optimizer_d], [], [],
                                      accelerator.process_index, accelerator.scaler,
                                      "on_device" if accelerator.num_processes > 1 else "cpu")
    accelerator.step = restored.get("step", accelerator.step)
    return notices


def handle_nonfinite(run: Run) -> None:
    run.progress.nonfinite_in_a_row += 1
    run.progress.nonfinite_total += 1
    if run.progress.nonfinite_in_a_row >= run.args.max_nonfinite_steps:
        found = list_checkpoints(run.args.checkpoint_dir, run.progress.run_id)
        kept = f"the last good checkpoint is {found[-1]}" if found else "no checkpoint of this run was saved yet"
        raise TrainingError(f"{run.progress.nonfinite_in_a_row} optimiser steps in a row with non-finite losses at step "
                            f"{run.progress.step}: "
                            f"lower --learning_rate or check the data; {kept}")


def after_step(run: Run, metrics: dict, bar) -> None:
    args, step = run.args, run.progress.step
    if step % args.logging_steps == 0 or step == 1:
        shown = {BAR_NAMES.get(k, k.removeprefix("loss_")): f"{v:.3g}" for k, v in metrics.items() if k != "warmup"}
        bar.set_postfix(shown, refresh=False)
        run.progress.history.append([step, {k: v for k, v in metrics.items()}])
        if run.writer is not None:
            for name, value in metrics.items():
                run.writer.add_scalar(f"train/{name}", value, step)
            run.writer.add_scalar("train/learning_rate", run.scheduler_g.get_last_lr()[-1], step)  # the last group: --learning_rate
            run.writer.add_scalar("train/nonfinite_skipped", run.progress.nonfinite_total, step)
    if step % args.eval_steps == 0 and run.accelerator.is_main_process:
        evaluate(run)
    if step % args.save_steps == 0:
        path = save_checkpoint(run)
        bar.write(f"step {step}: checkpoint {path}")


def print_header(run: Run, total_steps: int, resume_from: Path | None) -> None:
    args = run.args
    trainable = sum(p.numel() for p in run.generator_parameters)
    disc = sum(p.numel() for p in run.discriminator.parameters())
    minutes = sum(run.dataset.samples) / run.dataset.sample_rate / 60
    print(f"data: {len(run.dataset)} clips ({minutes:.1f} min) from {args.data_dir}, "
          f"{len(run.eval_dataset) if run.eval_dataset else 0} for evaluation")
    state = "" if run.discriminator_loaded else f"fresh, {args.discriminator_warmup_steps} warm-up steps, "
    print(f"generator: {trainable / 1e6:.2f} M trainable parameters; discriminator {disc / 1e6:.2f} M "
          f"({state}{run.discriminator_origin})")
    rates = f"learning rate {args.learning_rate:g}"
    if args.discriminator_learning_rate and args.discriminator_learning_rate != args.learning_rate:
        rates += f", discriminator {args.discriminator_learning_rate:g}"
    if args.prior_learning_rate and args.prior_learning_rate != args.learning_rate:
        rates += f", text encoder, flow and duration predictor {args.prior_learning_rate:g}"
    ramp = f", rising over {args.lr_warmup_steps} updates" if args.lr_warmup_steps else ""
    print(f"{rates}{ramp}; text-encoder layer drop {args.layerdrop:g}")
    processes = run.accelerator.num_processes
    print(f"steps: {total_steps} of batch {args.batch_size} x {args.gradient_accumulation_steps}"
          + (f" on {processes} processes" if processes > 1 else "") + f"; precision "
          f"{args.mixed_precision}; device {run.accelerator.device}"
          + (f"; resuming from {resume_from} at step {run.progress.step}" if resume_from else ""))


# --- evaluation -------------------------------------------------------------------------------

@torch.no_grad()
def evaluate(run: Run) -> dict[str, float]:
    """Eval losses on the held-out clips, the fixed sentences spoken to samples/step-N/, pictures.

    Runs inside forked random generators (the CPU's and every GPU's) so that evaluating does not
    change the training that follows.
    """
    step, model = run.progress.step, run.model
    model.eval()
    run.discriminator.eval()
    totals: dict[str, float] = {}
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        torch.manual_seed(run.args.seed)
        if run.eval_dataset is not None:
            batches = [list(range(i, min(i + run.args.batch_size, len(run.eval_dataset))))
                       for i in range(0, len(run.eval_dataset), run.args.batch_size)]
            first = None
            for indices in batches:
                batch = collate([run.eval_dataset[i] for i in indices]).to(run.accelerator.device)
                with run.accelerator.autocast():
                    _, _, metrics, out = compute_losses(model, run.discriminator, batch, run.features, run.weights,
                                                        run.args.segment_frames)
                first = first or out
                for name, value in metrics.items():
                    totals[name] = totals.get(name, 0.0) + value * len(indices) / len(run.eval_dataset)
            scores = evaluation.score_model(Voice.from_model(model, run.tokenizer), "model", run.args.data_dir,
                                            run.eval_dataset.clips[:EVAL_SCORED_CLIPS], run.args.seed,
                                            settings=Settings(speaker_id=run.speaker))
            totals["mcd_dtw"] = float(np.mean([s.mcd_dtw for s in scores]))
            totals["duration_ratio"] = float(np.mean([s.duration_ratio for s in scores]))
            if run.writer is not None and first is not None:
                run.writer.add_figure("eval/alignment", plot_matrix(first.path[0].cpu().numpy(), "frames", "tokens"), step)
                run.writer.add_figure("eval/mel", plot_mels(first.mel_real[0], first.mel_fake[0]), step)
        samples = logging_dir(run.args) / "samples" / f"step-{step}"
        samples.mkdir(parents=True, exist_ok=True)
        for index, sentence in enumerate(EVAL_SENTENCES):
            text = normalize_text(sentence, run.vocabulary.characters).text
            ids = run.tokenizer(text, return_tensors="pt").to(run.accelerator.device)
            waveform = model(**ids, speaker_id=run.speaker).waveform[0].float().cpu().numpy()
            sf.write(samples / f"{index}.wav", waveform, model.config.sampling_rate, subtype="PCM_16")
            if run.writer is not None:
                run.writer.add_audio(f"samples/{index}", waveform, step, sample_rate=model.config.sampling_rate)
    if run.writer is not None:
        for name, value in totals.items():
            run.writer.add_scalar(f"eval/{name}", value, step)
    if totals:
        tqdm.write(f"step {step} eval: MCD-DTW {totals['mcd_dtw']:.2f} dB, duration ratio {totals['duration_ratio']:.2f}, "
                   + ", ".join(f"{k.removeprefix('loss_')} {v:.3g}" for k, v in totals.items() if k.startswith("loss_"))
                   + f"; samples in {samples}")
    model.train()
    run.discriminator.train()
    return totals


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_matrix(matrix: np.ndarray, xlabel: str, ylabel: str):
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 3))
    axis.imshow(matrix, aspect="auto", origin="lower", interpolation="none")
    axis.set(xlabel=xlabel, ylabel=ylabel)
    return figure


def plot_mels(real: torch.Tensor, fake: torch.Tensor):
    plt = _pyplot()
    figure, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    for axis, mel, title in zip(axes, (real, fake), ("recording", "generated")):
        axis.imshow(mel.float().cpu().numpy(), aspect="auto", origin="lower")
        axis.set(title=title, ylabel="mel bin")
    return figure


def plot_loss_curve(history: list, path: Path) -> None:
    if not history:
        return
    plt = _pyplot()
    steps = [step for step, _ in history]
    names = ["loss_mel", "loss_kl", "loss_dur", "loss_fm", "loss_gen", "loss_disc"]
    figure, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
    for axis, name in zip(axes.flat, names):
        axis.plot(steps, [metrics.get(name, float("nan")) for _, metrics in history])
        axis.set(title=name, xlabel="step")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
