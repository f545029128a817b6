"""What a run is, recorded in every checkpoint: its settings and a fingerprint of its data.

A resume compares them with the run that resumes: a setting that changes what the run computes
(or other data) is refused, a harmless one gets a notice.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from kurdish_tts.training.arguments import learning_rates
from kurdish_tts.training.errors import CheckpointError

# Settings that decide what the run computes: resuming with another value is refused.
CHECKED = ("model_name_or_path", "init_config", "discriminator", "discriminator_warmup_steps", "warmup_generator",
           "freeze", "speaker_id", "layerdrop", "learning_rate", "acoustic_learning_rate", "discriminator_learning_rate",
           "prior_learning_rate", "lr_decay", "lr_warmup_steps", "batch_size", "gradient_accumulation_steps",
           "max_grad_norm", "segment_frames", "seed", "weight_mel", "weight_kl", "weight_duration", "weight_fm",
           "weight_gen", "weight_disc", "ema_decay", "speaker_embedding_size", "balance_voices", "keep_prior")
# Harmless to change between sessions: a notice says what changed.
NOTICED = ("mixed_precision", "dataloader_workers", "max_nonfinite_steps", "eval_steps", "save_steps", "logging_steps",
           "save_total_limit")


def data_fingerprint(clips, frames: list[int], weights: list[float] | None) -> str:
    """sha256 of what the run trains on: every clip's file, text, length, sampling weight (and voice)."""
    rows = [[clip.file, clip.text, count, 1.0 if weights is None else weights[i], *([clip.voice] if clip.voice else [])]
            for i, (clip, count) in enumerate(zip(clips, frames))]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()


def run_settings(args, fingerprint: str, voices: list[str] = (), prior_kept: bool = False,
                 ema_decay: float = 0.0, processes: int = 1) -> dict:
    """The settings a checkpoint records (JSON values: paths as strings); `voices`: the model's, by id;
    `prior_kept`, `ema_decay`: what --keep_prior decided and the decay the run uses (auto measures, so
    the decision, not the flag, is checked); `processes`: each takes its share of an epoch's batches,
    so a resume on another number would repeat or skip some."""
    def plain(value):
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    values = {name: plain(getattr(args, name, None)) for name in CHECKED + NOTICED}
    rates = learning_rates(args, prior_kept)  # the rates the run uses, defaults filled in
    values |= {"acoustic_learning_rate": rates["acoustic"], "prior_learning_rate": rates["prior"],
               "discriminator_learning_rate": rates["discriminator"]}
    values["freeze"] = sorted(values["freeze"] or [])
    values["data"] = fingerprint
    values["voices"] = list(voices)
    values["keep_prior"] = "yes" if prior_kept else "no"
    values["ema_decay"] = ema_decay
    values["processes"] = processes
    return values


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def compare_settings(saved: dict, current: dict, where: Path) -> list[str]:
    """CheckpointError naming every checked setting that differs; -> notices for the harmless ones."""
    saved = {"keep_prior": "no", **saved}  # checkpoints from before --keep_prior trained the whole prior
    changed = [name for name in CHECKED + ("data", "voices", "processes") if name in saved
               and not _same(saved[name], current.get(name))]
    if changed:
        described = {"data": "the data (other clips, texts or weights than the checkpoint trained on)",
                     "processes": f"{current.get('processes')} processes (the checkpoint: {saved.get('processes')}; "
                                  f"accelerate launch --num_processes)",
                     "voices": f"the voices {_shown(current.get('voices'))} (the checkpoint: "
                               f"{_shown(saved.get('voices'))})"}
        parts = [described.get(name) or f"--{name} {_shown(current.get(name))} (the checkpoint: {_shown(saved[name])})"
                 for name in changed]
        raise CheckpointError(f"--resume {where}: {', '.join(parts)}; resume with the settings it was trained with, "
                              f"or leave out --resume to start a new run")
    return [f"--{name} {_shown(current.get(name))} (was {_shown(saved[name])})" for name in NOTICED
            if name in saved and not _same(saved[name], current.get(name))]


def _shown(value) -> str:
    if value is None or value == []:
        return "not given"
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)
