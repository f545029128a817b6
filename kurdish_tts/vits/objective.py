"""What one training step optimises: the weighted generator loss and the discriminator loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kurdish_tts.vits.features import FeatureConfig
from kurdish_tts.vits.generator import GeneratorOutput, generator_forward
from kurdish_tts.vits.losses import loss_disc, loss_dur, loss_fm, loss_gen, loss_kl, loss_mel


@dataclass
class LossWeights:
    """The original VITS weights; the weighted generator loss sits around 20-40 by construction."""

    mel: float = 45.0
    kl: float = 1.0
    duration: float = 1.0
    fm: float = 1.0
    gen: float = 1.0
    disc: float = 1.0


def compute_losses(model, discriminator, batch, features: FeatureConfig, weights: LossWeights,
                   segment_frames: int = 32, adversarial: bool = True) -> tuple[torch.Tensor, torch.Tensor, dict[str, float], GeneratorOutput]:
    """-> (loss_g, loss_d, metrics, generator output).

    One discriminator pass on the real segment and one on the generated segment serve both
    losses. loss_d reaches the generator through the generated audio, so the caller must
    back-propagate loss_d only into the discriminator and loss_g only into the generator
    (`backward(inputs=...)`); that saves the third discriminator pass of the usual recipe.
    With `adversarial=False` the generator loss has no feature-matching or adversarial term.
    """
    out = generator_forward(model, batch, features, segment_frames)
    scores_real, features_real = discriminator(out.waveform_real)
    scores_fake, features_fake = discriminator(out.waveform_fake)
    parts = {
        "loss_mel": loss_mel(out.mel_fake, out.mel_real),
        "loss_kl": loss_kl(out.z_p, out.logs_q, out.m_p, out.logs_p, out.frame_mask),
        "loss_dur": loss_dur(out.duration_nll, out.text_lengths),
        "loss_fm": loss_fm(features_real, features_fake),
        "loss_gen": loss_gen(scores_fake),
        "loss_disc": loss_disc(scores_real, scores_fake),
    }
    loss_g = weights.mel * parts["loss_mel"] + weights.kl * parts["loss_kl"] + weights.duration * parts["loss_dur"]
    if adversarial:
        loss_g = loss_g + weights.fm * parts["loss_fm"] + weights.gen * parts["loss_gen"]
    loss_d = weights.disc * parts["loss_disc"]
    metrics = {name: value.item() for name, value in parts.items()}
    metrics.update(generator_total=loss_g.item(), discriminator_total=loss_d.item(),
                   score_real=mean_score(scores_real), score_fake=mean_score(scores_fake))
    return loss_g, loss_d, metrics, out


def mean_score(scores: list[torch.Tensor]) -> float:
    """The discriminator's verdict averaged over its sub-discriminators (least squares: 1 real, 0 generated)."""
    return float(torch.stack([score.detach().float().mean() for score in scores]).mean())
