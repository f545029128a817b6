"""The training forward of the VITS generator, built on `transformers.VitsModel`'s own modules.

`VitsModel.forward` only synthesises; training needs the other direction too. For one batch:

    audio -> linear spectrogram -> posterior encoder -> z -> flow -> z_p
    text  -> text encoder -> prior means m_p and log-std logs_p (per token)
    alignment search: the monotonic token->frame path maximising log N(z_p; m_p, exp(logs_p))
    durations = frames per token -> duration predictor NLL
    prior expanded along the path -> KL against the posterior
    random segment of z -> HiFi-GAN decoder -> waveform, compared with the same segment of the audio
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from kurdish_tts.corpus.dataset import Batch
from kurdish_tts.vits.alignment import monotonic_alignment_search
from kurdish_tts.vits.duration import stochastic_duration_nll
from kurdish_tts.vits.features import FeatureConfig, linear_spectrogram, mel_spectrogram


@dataclass
class GeneratorOutput:
    waveform_fake: torch.Tensor  # [B, 1, segment_frames * hop] decoder output for a random segment
    waveform_real: torch.Tensor  # [B, 1, segment_frames * hop] the same segment of the recording
    mel_fake: torch.Tensor  # [B, n_mels, segment_frames]
    mel_real: torch.Tensor  # [B, n_mels, segment_frames]
    z_p: torch.Tensor  # [B, flow_size, T_frames] posterior latents through the flow
    logs_q: torch.Tensor  # [B, flow_size, T_frames] posterior log-std
    m_p: torch.Tensor  # [B, flow_size, T_frames] prior means, expanded along the path
    logs_p: torch.Tensor  # [B, flow_size, T_frames] prior log-std, expanded along the path
    frame_mask: torch.Tensor  # [B, 1, T_frames]
    duration_nll: torch.Tensor  # [B] duration loss per utterance
    text_lengths: torch.Tensor  # [B] tokens
    path: torch.Tensor  # [B, T_text, T_frames] 0/1 alignment


def prior_log_likelihood(z_p: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor) -> torch.Tensor:
    """log N(z_p[:, :, f]; m_p[:, :, t], exp(logs_p[:, :, t])^2) summed over channels: [B, T_text, T_frames].

    Expanded into four matrix products so that no [B, C, T_text, T_frames] tensor is built.
    In fp32: the squares and exp(-2 logs_p) lose too much in half precision.
    """
    with torch.autocast(z_p.device.type, enabled=False):  # autocast would take the matmuls back to half
        return _prior_log_likelihood(z_p.float(), m_p.float(), logs_p.float())


def _prior_log_likelihood(z_p: torch.Tensor, m_p: torch.Tensor, logs_p: torch.Tensor) -> torch.Tensor:
    inverse_variance = torch.exp(-2.0 * logs_p)  # [B, C, T_text]
    constant = torch.sum(-0.5 * math.log(2 * math.pi) - logs_p - 0.5 * m_p**2 * inverse_variance, dim=1)  # [B, T_text]
    quadratic = torch.matmul(inverse_variance.transpose(1, 2), -0.5 * z_p**2)  # [B, T_text, T_frames]
    cross = torch.matmul((m_p * inverse_variance).transpose(1, 2), z_p)  # [B, T_text, T_frames]
    return constant.unsqueeze(-1) + quadratic + cross


def random_segments(frame_lengths: torch.Tensor, segment_frames: int) -> torch.Tensor:
    """A start frame per utterance such that the segment lies inside it when it can: [B] long."""
    room = torch.clamp(frame_lengths - segment_frames, min=0).cpu()
    if int(room.max()) == 0:  # every clip fits whole: nothing to choose
        return torch.zeros_like(frame_lengths)
    fraction = torch.rand(len(room))
    return torch.floor(fraction * (room + 1)).long().to(frame_lengths.device)


def take_segments(values: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """values [B, C, T] -> [B, C, length] from each utterance's start, zero past the end."""
    padded = torch.nn.functional.pad(values, (0, length))
    index = starts.view(-1, 1, 1) + torch.arange(length, device=values.device).view(1, 1, -1)
    return torch.gather(padded, 2, index.expand(values.shape[0], values.shape[1], length))


def duration_loss(model, hidden: torch.Tensor, text_padding: torch.Tensor, durations: torch.Tensor,
                  speaker: torch.Tensor | None) -> torch.Tensor:
    """The duration predictor's loss per utterance [B], its whole computation in fp32 whatever the autocast:
    the stochastic predictor's flows (exp, log, splines) lose too much in half precision."""
    float_ = lambda x: None if x is None else x.float()
    with torch.autocast(hidden.device.type, enabled=False):
        hidden, text_padding, durations, speaker = map(float_, (hidden, text_padding, durations, speaker))
        if model.config.use_stochastic_duration_prediction:
            return stochastic_duration_nll(model.duration_predictor, hidden, text_padding, durations, speaker)
        predicted = model.duration_predictor(hidden, text_padding, speaker)  # log durations [B, 1, T_text]
        target = torch.log(durations + 1e-6) * text_padding
        return torch.sum((predicted - target) ** 2 * text_padding, dim=[1, 2])


def generator_forward(model, batch: Batch, features: FeatureConfig, segment_frames: int = 32) -> GeneratorOutput:
    config = model.config
    hop = features.hop_length
    text_mask = batch.attention_mask  # [B, T_text]
    text_padding = text_mask.unsqueeze(1).float()  # [B, 1, T_text]
    spectrogram = linear_spectrogram(batch.waveforms, features)  # [B, bins, T_frames]
    frame_lengths = batch.waveform_lengths // hop
    frame_mask = (torch.arange(spectrogram.shape[-1], device=spectrogram.device) < frame_lengths.unsqueeze(1))
    frame_mask = frame_mask.unsqueeze(1).to(spectrogram.dtype)  # [B, 1, T_frames]
    speaker = None
    if config.num_speakers > 1 and batch.speaker_ids is not None:
        speaker = model.embed_speaker(batch.speaker_ids).unsqueeze(-1)  # [B, E, 1]

    encoded = model.text_encoder(input_ids=batch.input_ids, padding_mask=text_padding.transpose(1, 2),
                                 attention_mask=text_mask)
    hidden = encoded.last_hidden_state.transpose(1, 2)  # [B, H, T_text]
    m_p_text = encoded.prior_means.transpose(1, 2)  # [B, C, T_text]
    logs_p_text = encoded.prior_log_variances.transpose(1, 2)  # [B, C, T_text]; used as a log-std by VitsModel

    z, _, logs_q = model.posterior_encoder(spectrogram, frame_mask, speaker)  # [B, C, T_frames]
    z_p = model.flow(z, frame_mask, speaker)

    with torch.no_grad():
        log_likelihood = prior_log_likelihood(z_p.detach(), m_p_text.detach(), logs_p_text.detach())
        path = monotonic_alignment_search(log_likelihood, text_mask, frame_mask)  # [B, T_text, T_frames]
    durations = path.sum(2).unsqueeze(1)  # [B, 1, T_text] frames per token

    duration_nll = duration_loss(model, hidden, text_padding, durations, speaker)

    m_p = torch.matmul(m_p_text, path)  # [B, C, T_frames]
    logs_p = torch.matmul(logs_p_text, path)

    starts = random_segments(frame_lengths, segment_frames)
    z_segment = take_segments(z, starts, segment_frames)
    waveform_fake = model.decoder(z_segment, speaker)  # [B, 1, segment_frames * hop]
    waveform_real = take_segments(batch.waveforms.unsqueeze(1), starts * hop, segment_frames * hop)
    return GeneratorOutput(
        waveform_fake=waveform_fake,
        waveform_real=waveform_real,
        mel_fake=mel_spectrogram(waveform_fake.squeeze(1), features),
        mel_real=mel_spectrogram(waveform_real.squeeze(1), features),
        z_p=z_p, logs_q=logs_q, m_p=m_p, logs_p=logs_p, frame_mask=frame_mask,
        duration_nll=duration_nll, text_lengths=text_mask.sum(1), path=path,
    )
