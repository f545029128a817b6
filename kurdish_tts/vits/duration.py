"""The stochastic duration predictor's training loss, in the flow order that inference inverts.

VITS's stochastic duration predictor is a normalising flow over two channels per token: the
log-duration and an auxiliary noise channel. Its flow list is [affine, conv flow 1, ..., conv
flow N], with the channels swapped after every conv flow but not after the affine one, and
synthesis inverts the list less conv flow 1 (which only ever changes the auxiliary channel),
reading the log-duration off channel 0.

`transformers`' training branch (`VitsStochasticDurationPredictor.forward(reverse=False)`)
swaps the channels after the affine flow too. Its reverse branch, which MMS and this toolkit
synthesise with, is the original one, so a predictor trained through that branch learns
durations in the channel that synthesis reads as noise: unseen sentences came out 7 to 14
times too long. This module computes the same likelihood with the original order, on the
predictor's own modules.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F


def _through(flows, latents: torch.Tensor, mask: torch.Tensor, condition: torch.Tensor | None):
    """Flows forward, channels swapped after every flow but the first: (latents, summed log-determinant [B])."""
    log_determinant = torch.zeros(latents.shape[0], device=latents.device, dtype=latents.dtype)
    for index, flow in enumerate(flows):
        latents, step = flow(latents, mask, global_conditioning=condition)
        log_determinant = log_determinant + step
        if index > 0:
            latents = torch.flip(latents, [1])
    return latents, log_determinant


def encode_durations(predictor, condition: torch.Tensor, mask: torch.Tensor, log_durations: torch.Tensor,
                     auxiliary: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log-durations, auxiliary) [B, 1, T] each -> (Gaussian latents [B, 2, T], log-determinant [B]):
    the direction synthesis inverts."""
    return _through(predictor.flows, torch.cat([log_durations, auxiliary], dim=1), mask, condition)


def decode_durations(predictor, condition: torch.Tensor, mask: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Gaussian noise [B, 2, T] (already scaled by noise_scale_duration) -> log-durations [B, 1, T]:
    the flows in reverse, less conv flow 1, which changes only the auxiliary channel (VITS's synthesis)."""
    flows = list(predictor.flows)
    latents = noise
    for flow in reversed([flows[0]] + flows[2:]):
        latents = torch.flip(latents, [1])
        latents, _ = flow(latents, mask, global_conditioning=condition, reverse=True)
    return latents[:, :1]


def text_condition(predictor, hidden: torch.Tensor, mask: torch.Tensor, speaker: torch.Tensor | None) -> torch.Tensor:
    """Text-encoder states [B, H, T] -> the flows' conditioning [B, F, T]; no gradient reaches the text encoder."""
    condition = predictor.conv_pre(hidden.detach())
    if speaker is not None:
        condition = condition + predictor.cond(speaker.detach())
    return predictor.conv_proj(predictor.conv_dds(condition, mask)) * mask


def posterior_noise(batch: int, tokens: int, like: torch.Tensor) -> torch.Tensor:
    """The standard normal noise [B, 2, T] the duration posterior starts from (a function of its own so
    that a test can make it independent of how a batch is split)."""
    return torch.randn(batch, 2, tokens, device=like.device, dtype=like.dtype)


def stochastic_duration_nll(predictor, hidden: torch.Tensor, mask: torch.Tensor, durations: torch.Tensor,
                            speaker: torch.Tensor | None = None) -> torch.Tensor:
    """Negative log-likelihood (a variational bound) of `durations` [B, 1, T] frames per token: [B].

    hidden [B, H, T] text-encoder states, mask [B, 1, T], speaker [B, E, 1] or None. The integer
    durations are dequantised by a learnt posterior u in (0, 1) and an auxiliary channel, as in VITS.
    """
    condition = text_condition(predictor, hidden, mask, speaker)
    duration_features = predictor.post_conv_pre(durations)
    duration_features = predictor.post_conv_proj(predictor.post_conv_dds(duration_features, mask)) * mask

    noise = posterior_noise(durations.shape[0], durations.shape[2], hidden) * mask
    posterior, log_determinant_q = _through(predictor.post_flows, noise, mask, condition + duration_features)
    u_logits, auxiliary = torch.split(posterior, [1, 1], dim=1)
    u = torch.sigmoid(u_logits) * mask
    log_determinant_q = log_determinant_q + torch.sum((F.logsigmoid(u_logits) + F.logsigmoid(-u_logits)) * mask, [1, 2])
    log_q = torch.sum(-0.5 * (math.log(2 * math.pi) + noise**2) * mask, [1, 2]) - log_determinant_q

    log_durations = torch.log(torch.clamp_min(durations - u, 1e-5)) * mask
    latents, log_determinant = encode_durations(predictor, condition, mask, log_durations, auxiliary)
    log_determinant = log_determinant - torch.sum(log_durations, [1, 2])  # d log(w - u) / d(w - u)
    nll = torch.sum(0.5 * (math.log(2 * math.pi) + latents**2) * mask, [1, 2]) - log_determinant
    return nll + log_q
