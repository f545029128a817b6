"""The state of a training run: what the loop, evaluation, checkpoints and output work with.

Built by `run.build_run`; nothing here imports from the rest of `training/`, so every module of
the engine can name a `Run` without an import cycle.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import asdict, dataclass, field

import torch

from kurdish_tts.corpus.dataset import LengthBucketSampler, TtsDataset
from kurdish_tts.text.vocabulary import Vocabulary
from kurdish_tts.vits.features import FeatureConfig
from kurdish_tts.vits.objective import LossWeights


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
    ema: dict | None = None  # --ema_decay: the moving average of the generator's floating-point state, by name
    voice_ids: dict = field(default_factory=dict)  # data of several voices: each voice's speaker id, by name
    ema_decay: float = 0.0  # --ema_decay as resolved (training/prior.py ema_decay)
    prior_kept: bool = False  # the text encoder, duration predictor and flow frozen (--keep_prior, training/prior.py)
    prior_reason: str = ""  # why, in words

    @property
    def speaker(self) -> int | None:
        """The speaker one-voice data trains: --voice for a multi-speaker model, None for a one-voice one."""
        return trained_speaker(self.args, self.model.config)

    @property
    def spoken_voices(self) -> dict[str, int | None]:
        """What evaluation speaks with, by name: each voice of data of several voices, else the one
        voice trained ("" for it)."""
        return self.voice_ids or {"": self.speaker}

    @property
    def adversarial_start(self) -> int:
        """The step from which the discriminator drives the generator: after the warm-up, which a
        loaded discriminator needs only when the generator meanwhile trains on the reconstruction
        losses (the measured recipe: a fine-tune keeps its voice best without the adversarial loss
        at first, whatever the discriminator); at once beside a loaded one when it would wait."""
        if self.discriminator_loaded and self.args.warmup_generator == "frozen":
            return 0
        return self.args.discriminator_warmup_steps

    @property
    def generator_start(self) -> int:
        """The step from which the generator trains: with the adversarial losses (--warmup_generator
        frozen), or from the first step on the reconstruction losses alone (reconstruction)."""
        return 0 if self.args.warmup_generator == "reconstruction" else self.adversarial_start

    @property
    def generator_parameters(self) -> list:
        return [p for p in self.model.parameters() if p.requires_grad]


def start_ema(model: torch.nn.Module) -> dict:
    """The moving average's start: the generator's floating-point state as it is now, but for frozen
    weights (which stay exactly what they are)."""
    frozen = {name for name, parameter in model.named_parameters() if not parameter.requires_grad}
    return {name: value.detach().clone() for name, value in model.state_dict().items()
            if value.is_floating_point() and name not in frozen}


def update_ema(run: Run) -> None:
    """After a generator update: average <- decay * average + (1 - decay) * weights."""
    decay = run.ema_decay
    with torch.no_grad():
        for name, value in run.model.state_dict().items():
            if name in run.ema:
                run.ema[name].mul_(decay).add_(value.detach(), alpha=1.0 - decay)


@contextlib.contextmanager
def averaged(run: Run):
    """The generator holds the moving average's weights inside the block (to be saved or spoken
    with), its own again after it; without --ema_decay, nothing changes."""
    if run.ema is None:
        yield
        return
    own = {name: value.detach().clone() for name, value in run.model.state_dict().items() if name in run.ema}
    with torch.no_grad():
        run.model.load_state_dict(run.ema, strict=False)
    try:
        yield
    finally:
        with torch.no_grad():
            run.model.load_state_dict(own, strict=False)


def trained_speaker(args, config) -> int | None:
    """The speaker a run trains: --speaker_id for a multi-speaker model, None for a one-voice one."""
    return args.speaker_id if config.num_speakers > 1 else None
