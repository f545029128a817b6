"""Spectrogram features computed on the fly on the training device.

The posterior encoder reads a linear magnitude spectrogram (513 bins for n_fft 1024); the
mel loss compares log-mel spectrograms (80 Slaney bins, 0-8 kHz). Both are cheap on the
device that trains, so nothing is cached on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 16_000
    n_fft: int = 1024  # 64 ms window at 16 kHz -> 513 frequency bins
    hop_length: int = 256  # 16 ms: one spectrogram frame per decoder upsampling product
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8_000.0

    @classmethod
    def from_model_config(cls, config) -> FeatureConfig:
        """Features matching a `VitsConfig`: hop = product of the decoder's upsample rates."""
        n_fft = 2 * (config.spectrogram_bins - 1)
        return cls(sample_rate=config.sampling_rate, n_fft=n_fft, win_length=n_fft,
                   hop_length=math.prod(config.upsample_rates), fmax=config.sampling_rate / 2)


_WINDOWS: dict = {}
_MEL_BASES: dict = {}


def linear_spectrogram(waveform: torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """[B, samples] -> magnitude [B, n_fft // 2 + 1, samples // hop], in fp32 on the waveform's device."""
    waveform = waveform.float()
    key = (cfg.win_length, waveform.device)
    if key not in _WINDOWS:
        _WINDOWS[key] = torch.hann_window(cfg.win_length, device=waveform.device)
    pad = (cfg.n_fft - cfg.hop_length) // 2
    padded = torch.nn.functional.pad(waveform.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    with torch.autocast(waveform.device.type, enabled=False):
        spec = torch.stft(padded, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=_WINDOWS[key], center=False, return_complex=True)
        return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-6)


def spectrogram_to_mel(spectrogram: torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """Magnitude [B, bins, frames] -> natural-log mel [B, n_mels, frames] (clamped at 1e-5)."""
    key = (cfg, spectrogram.device)
    if key not in _MEL_BASES:
        import librosa

        basis = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels,
                                    fmin=cfg.fmin, fmax=cfg.fmax, htk=False, norm="slaney")
        _MEL_BASES[key] = torch.from_numpy(basis).float().to(spectrogram.device)
    with torch.autocast(spectrogram.device.type, enabled=False):
        mel = torch.matmul(_MEL_BASES[key], spectrogram.float())
        return torch.log(torch.clamp(mel, min=1e-5))


def mel_spectrogram(waveform: torch.Tensor, cfg: FeatureConfig = FeatureConfig()) -> torch.Tensor:
    """[B, samples] -> log-mel [B, n_mels, samples // hop]."""
    return spectrogram_to_mel(linear_spectrogram(waveform, cfg), cfg)
