"""The VITS losses as small pure functions, named as in the paper.

Every loss casts its inputs to fp32 first: under fp16 autocast, exp(-2 logs_p) in the KL
and the squares in the least-squares GAN losses overflow or underflow, and a loss that is
inf or 0 teaches nothing.
"""

from __future__ import annotations

import torch


def loss_mel(mel_fake: torch.Tensor, mel_real: torch.Tensor) -> torch.Tensor:
    """L1 between log-mel spectrograms [B, n_mels, frames]."""
    return torch.nn.functional.l1_loss(mel_fake.float(), mel_real.float())


def loss_kl(z_p: torch.Tensor, logs_q: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor,
            z_mask: torch.Tensor) -> torch.Tensor:
    """KL between the posterior (sample z_p, log-std logs_q) and the prior N(m_p, exp(logs_p)^2),
    per latent frame. Tensors [B, C, frames]; z_mask [B, 1, frames]."""
    z_p, logs_q, m_p, logs_p, z_mask = (x.float() for x in (z_p, logs_q, m_p, logs_p, z_mask))
    kl = logs_p - logs_q - 0.5 + 0.5 * (z_p - m_p) ** 2 * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)


def loss_dur(duration_nll: torch.Tensor, text_lengths: torch.Tensor) -> torch.Tensor:
    """Duration negative log-likelihood per text token."""
    return torch.sum(duration_nll.float()) / torch.sum(text_lengths.float())


def loss_fm(feature_maps_real: list[list[torch.Tensor]], feature_maps_fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Feature matching: 2 x sum over every feature map of mean |real - fake|; no gradient to the real side."""
    total = torch.zeros((), device=feature_maps_fake[0][0].device)
    for maps_real, maps_fake in zip(feature_maps_real, feature_maps_fake):
        for real, fake in zip(maps_real, maps_fake):
            total = total + torch.mean(torch.abs(real.detach().float() - fake.float()))
    return 2.0 * total


def loss_gen(scores_fake: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares adversarial loss of the generator: every discriminator should say 1."""
    return sum(torch.mean((1.0 - score.float()) ** 2) for score in scores_fake)


def loss_disc(scores_real: list[torch.Tensor], scores_fake: list[torch.Tensor]) -> torch.Tensor:
    """Least-squares loss of the discriminator: 1 for real audio, 0 for generated audio."""
    return sum(torch.mean((1.0 - real.float()) ** 2) + torch.mean(fake.float() ** 2)
               for real, fake in zip(scores_real, scores_fake))
