"""The VITS discriminator: one scale discriminator plus period discriminators (2, 3, 5, 7, 11).

The module layout mirrors the original VITS code that MMS was trained with, so Meta's
full training checkpoints (`D_100000.pth`) load by renaming only the weight-norm keys:
`discriminators.0` is the scale discriminator and `discriminators.1..5` the period ones,
each with `convs.N` and `conv_post`. Widths come from `DiscriminatorConfig`: the default is
the MMS layout (about 47 M parameters); a tiny config keeps CPU runs fast.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from kurdish_tts.files import staged_folder

LEAKY_SLOPE = 0.1
CONFIG_FILE = "discriminator_config.json"
WEIGHTS_FILE = "discriminator.safetensors"
MMS_DECODER_CHANNELS = 512  # the upsample_initial_channel Meta's discriminator layout was made for


@dataclass
class DiscriminatorConfig:
    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    period_channels: list[int] = field(default_factory=lambda: [32, 128, 512, 1024, 1024])
    scale_channels: list[int] = field(default_factory=lambda: [16, 64, 256, 1024, 1024, 1024])
    scale_groups: list[int] = field(default_factory=lambda: [1, 4, 16, 64, 256, 1])

    @classmethod
    def from_dict(cls, values: dict) -> DiscriminatorConfig:
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown discriminator settings {sorted(unknown)}: use {sorted(cls.__dataclass_fields__)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def scaled_to(cls, generator_channels: int) -> DiscriminatorConfig:
        """Meta's layout narrowed for a generator whose decoder starts with `generator_channels`
        channels (MMS: 512, the layout itself): every width and group count scaled by the same power
        of two (at most 1), so that the grouped convolutions still divide, and at least 4 channels."""
        factor = 2.0 ** min(0, round(math.log2(max(1, generator_channels) / MMS_DECODER_CHANNELS)))
        meta = cls()
        return cls(
            periods=list(meta.periods),
            period_channels=[max(4, int(c * factor)) for c in meta.period_channels],
            scale_channels=[max(4, int(c * factor)) for c in meta.scale_channels],
            scale_groups=[max(1, int(g * factor)) for g in meta.scale_groups],
        )


def _score(convs: nn.ModuleList, conv_post: nn.Module, hidden: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run the convolution stack: (flattened score [B, n], the output of every layer)."""
    features = []
    for conv in convs:
        hidden = nn.functional.leaky_relu(conv(hidden), LEAKY_SLOPE)
        features.append(hidden)
    hidden = conv_post(hidden)
    features.append(hidden)
    return hidden.flatten(1), features


class ScaleDiscriminator(nn.Module):
    """Strided grouped 1-D convolutions over the raw waveform."""

    def __init__(self, channels: list[int], groups: list[int]):
        super().__init__()
        # (kernel, stride) of the six convolutions, as in VITS
        shapes = [(15, 1), (41, 4), (41, 4), (41, 4), (41, 4), (5, 1)]
        inputs = [1] + channels[:-1]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv1d(i, o, k, s, groups=g, padding=(k - 1) // 2))
            for i, o, g, (k, s) in zip(inputs, channels, groups, shapes)
        )
        self.conv_post = weight_norm(nn.Conv1d(channels[-1], 1, 3, 1, padding=1))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return _score(self.convs, self.conv_post, waveform)


class PeriodDiscriminator(nn.Module):
    """2-D convolutions over the waveform folded into rows of `period` samples."""

    def __init__(self, period: int, channels: list[int]):
        super().__init__()
        self.period = period
        inputs = [1] + channels[:-1]
        strides = [3] * (len(channels) - 1) + [1]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(i, o, (5, 1), (s, 1), padding=(2, 0))) for i, o, s in zip(inputs, channels, strides)
        )
        self.conv_post = weight_norm(nn.Conv2d(channels[-1], 1, (3, 1), 1, padding=(1, 0)))

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        batch, channels, samples = waveform.shape
        if samples % self.period:
            waveform = nn.functional.pad(waveform, (0, self.period - samples % self.period), mode="reflect")
        hidden = waveform.view(batch, channels, -1, self.period)  # [B, 1, samples / period, period]
        return _score(self.convs, self.conv_post, hidden)


class VitsDiscriminator(nn.Module):
    def __init__(self, config: DiscriminatorConfig | None = None):
        super().__init__()
        self.config = config or DiscriminatorConfig()
        self.discriminators = nn.ModuleList(
            [ScaleDiscriminator(self.config.scale_channels, self.config.scale_groups)]
            + [PeriodDiscriminator(p, self.config.period_channels) for p in self.config.periods]
        )

    def forward(self, waveform: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """[B, 1, samples] -> (score per sub-discriminator [B, n], feature maps per sub-discriminator)."""
        scores, feature_maps = [], []
        for discriminator in self.discriminators:
            score, features = discriminator(waveform)
            scores.append(score)
            feature_maps.append(features)
        return scores, feature_maps


def _from_original_keys(state: dict) -> dict:
    """Meta's `weight_g`/`weight_v` names -> this module's weight-norm parametrization names."""
    renamed = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.endswith(".weight_g"):
            key = key[: -len("weight_g")] + "parametrizations.weight.original0"
        elif key.endswith(".weight_v"):
            key = key[: -len("weight_v")] + "parametrizations.weight.original1"
        renamed[key] = value
    return renamed


def load_discriminator(path: str | Path, config: DiscriminatorConfig | None = None) -> VitsDiscriminator:
    """Meta's original checkpoint (a .pth with the state under "model") or a folder saved by `save_discriminator`."""
    import pickle

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"discriminator {path} not found: pass Meta's D_100000.pth or a saved discriminator folder")
    if path.is_dir() and not (path / WEIGHTS_FILE).is_file():
        raise FileNotFoundError(f"{path} has no {WEIGHTS_FILE}: pass a folder saved by train_vits.py or a D_*.pth file")
    try:
        if path.is_dir():
            config = DiscriminatorConfig.from_dict(json.loads((path / CONFIG_FILE).read_text(encoding="utf-8")))
            state = load_file(str(path / WEIGHTS_FILE))
        else:  # weights_only: a file that would need more than tensors and plain values is refused, not run
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            state = _from_original_keys(checkpoint.get("model", checkpoint))
    except (pickle.UnpicklingError, RuntimeError, EOFError, SafetensorError, AttributeError, TypeError,
            OSError) as e:
        raise ValueError(f"{path} is damaged or not a discriminator checkpoint ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else 'no detail'})") from e
    model = VitsDiscriminator(config)
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    resized = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or resized:
        raise ValueError(f"{path} does not fit the discriminator layout: missing {missing[:3]}, unexpected "
                         f"{unexpected[:3]}, other shapes {resized[:3]} (a different discriminator config?)")
    model.load_state_dict(state)
    return model


def save_discriminator(model: VitsDiscriminator, folder: str | Path) -> None:
    """Write weights and config into `folder` atomically (a temporary folder renamed into place)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with staged_folder(Path(folder)) as tmp:
        save_file(state, str(tmp / WEIGHTS_FILE))
        (tmp / CONFIG_FILE).write_text(json.dumps(model.config.to_dict(), indent=2), encoding="utf-8")
