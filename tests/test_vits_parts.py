"""The training building blocks on hand-made inputs: alignment search, losses, features, discriminator."""

import itertools
import json
import math

import numpy as np
import pytest
import torch
from helpers import ROOT

from kurdish_tts.vits.alignment import maximum_path, monotonic_alignment_search
from kurdish_tts.vits.discriminator import (
    DiscriminatorConfig,
    VitsDiscriminator,
    load_discriminator,
    save_discriminator,
)
from kurdish_tts.vits.features import FeatureConfig, linear_spectrogram, mel_spectrogram
from kurdish_tts.vits.generator import prior_log_likelihood
from kurdish_tts.vits.losses import loss_disc, loss_dur, loss_fm, loss_gen, loss_kl, loss_mel

TINY_DISCRIMINATOR = DiscriminatorConfig.from_dict(json.loads((ROOT / "configs/tiny.json").read_text())["discriminator"])


def brute_force_path(values: np.ndarray, text_length: int, frame_length: int) -> np.ndarray:
    """Try every monotonic path: token lengths >= 1 that add up to the frames."""
    best, best_path = -np.inf, None
    for cuts in itertools.combinations(range(1, frame_length), text_length - 1):
        bounds = (0, *cuts, frame_length)
        path = np.zeros((text_length, frame_length), np.int32)
        for t in range(text_length):
            path[t, bounds[t]:bounds[t + 1]] = 1
        score = float((values[:text_length, :frame_length] * path).sum())
        if score > best:
            best, best_path = score, path
    return best_path


@pytest.mark.parametrize("seed", range(6))
def test_alignment_equals_brute_force_and_respects_masks(seed):
    rng = np.random.default_rng(seed)
    text_lengths = np.array([1, 3, 4, 2])
    frame_lengths = np.array([3, 7, 8, 5])
    values = rng.standard_normal((4, 5, 9)).astype(np.float32)
    paths = maximum_path(values, text_lengths, frame_lengths)
    for b in range(4):
        t, f = text_lengths[b], frame_lengths[b]
        assert np.array_equal(paths[b, :t, :f], brute_force_path(values[b], t, f))
        assert paths[b].sum() == f and paths[b, t:].sum() == 0 and paths[b, :, f:].sum() == 0
        assert (paths[b, :t, :f].sum(0) == 1).all()  # each frame exactly one token


def test_alignment_torch_wrapper_and_short_audio_error():
    log_likelihood = torch.randn(2, 4, 6, dtype=torch.bfloat16)
    text_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    frame_mask = torch.tensor([[1, 1, 1, 1, 1, 0], [1] * 6])
    path = monotonic_alignment_search(log_likelihood, text_mask, frame_mask)
    assert path.dtype == torch.float32 and path.sum().item() == 11
    with pytest.raises(ValueError, match="too short for its text"):
        maximum_path(np.zeros((1, 4, 3), np.float32), np.array([4]), np.array([3]))


def test_losses_on_hand_made_tensors():
    assert loss_mel(torch.zeros(1, 2, 2), torch.ones(1, 2, 2)).item() == 1.0
    # KL of identical unit Gaussians with z_p at the mean: logs 0 -> 0 - 0 - 0.5 + 0 = -0.5 per element
    zeros = torch.zeros(1, 2, 3)
    mask = torch.tensor([[[1.0, 1.0, 0.0]]])
    assert loss_kl(zeros, zeros, zeros, zeros, mask).item() == pytest.approx(-1.0)  # 2 channels x -0.5
    # z_p one away from the mean with logs_p = log 2: log2 - 0.5 + 0.5 * 1 / 4
    logs_p = torch.full((1, 1, 2), math.log(2.0))
    expected = math.log(2.0) - 0.5 + 0.125
    assert loss_kl(torch.ones(1, 1, 2), torch.zeros(1, 1, 2), torch.zeros(1, 1, 2), logs_p, torch.ones(1, 1, 2)).item() == pytest.approx(expected)
    assert loss_dur(torch.tensor([3.0, 5.0]), torch.tensor([2, 2])).item() == 2.0
    assert loss_gen([torch.zeros(2, 3), torch.ones(1, 4)]).item() == 1.0
    assert loss_disc([torch.ones(2, 3)], [torch.full((2, 3), 0.5)]).item() == 0.25
    real = [[torch.ones(2, 2, requires_grad=True)]]
    fake = [[torch.zeros(2, 2, requires_grad=True)]]
    fm = loss_fm(real, fake)
    assert fm.item() == 2.0
    fm.backward()
    assert real[0][0].grad is None and fake[0][0].grad is not None


def test_losses_are_fp32_for_half_inputs():
    half = torch.randn(1, 4, 5).to(torch.float16)
    assert loss_mel(half, half).dtype == torch.float32
    assert loss_kl(half, half, half, half, torch.ones(1, 1, 5, dtype=torch.float16)).dtype == torch.float32
    assert loss_gen([half.to(torch.bfloat16)]).dtype == torch.float32


def test_features_shapes_and_known_tone():
    rate, hop = 16000, 256
    t = torch.arange(hop * 40) / rate
    tone = torch.sin(2 * math.pi * 1000 * t).unsqueeze(0)
    spec = linear_spectrogram(tone)
    assert spec.shape == (1, 513, 40)
    assert spec[0, :, 20].argmax().item() == 64  # 1000 Hz / (16000 / 1024) = bin 64
    mel = mel_spectrogram(tone.repeat(2, 1))
    assert mel.shape == (2, 80, 40) and mel.min().item() >= math.log(1e-5) - 1e-6
    assert FeatureConfig.from_model_config(type("C", (), {"spectrogram_bins": 513, "sampling_rate": 16000,
                                                          "upsample_rates": [8, 8, 2, 2]})()).hop_length == 256


def test_discriminator_layout_and_meta_checkpoint(tmp_path):
    full = VitsDiscriminator()
    assert 45e6 < sum(p.numel() for p in full.parameters()) < 49e6
    tiny = VitsDiscriminator(TINY_DISCRIMINATOR)
    # A checkpoint in the original layout: weight_g/weight_v names under "model", with a "module." prefix.
    original = {}
    for key, value in tiny.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        original[f"module.{key}"] = value.clone()
    assert "module.discriminators.0.convs.0.weight_g" in original and "module.discriminators.5.conv_post.weight_v" in original
    torch.save({"model": original, "iteration": 100000}, tmp_path / "D_100000.pth")
    loaded = load_discriminator(tmp_path / "D_100000.pth", TINY_DISCRIMINATOR)
    audio = torch.randn(2, 1, 4096)
    assert all(torch.equal(a, b) for a, b in zip(tiny(audio)[0], loaded(audio)[0]))
    save_discriminator(loaded, tmp_path / "saved")
    again = load_discriminator(tmp_path / "saved")
    assert all(torch.equal(a, b) for a, b in zip(tiny(audio)[0], again(audio)[0]))
    with pytest.raises(ValueError, match="does not fit"):
        load_discriminator(tmp_path / "D_100000.pth")  # the full-size layout does not fit tiny weights
    (tmp_path / "D_damaged.pth").write_bytes((tmp_path / "D_100000.pth").read_bytes()[:1000])
    (tmp_path / "saved" / "discriminator.safetensors").write_bytes(b"not safetensors")
    torch.save({"model": original, "code": VitsDiscriminator}, tmp_path / "D_code.pth")  # would need code to load
    for damaged in ("D_damaged.pth", "saved", "D_code.pth"):
        with pytest.raises(ValueError, match="is damaged or not a discriminator checkpoint"):
            load_discriminator(tmp_path / damaged, TINY_DISCRIMINATOR)
    scores, features = tiny(audio)
    assert len(scores) == 6 and all(s.shape[0] == 2 for s in scores) and len(features[1]) == 6


@pytest.mark.parametrize("stochastic", [True, False])
def test_training_forward_trains_every_part(stochastic):
    """Both duration predictors: finite losses, gradient from loss_g to every generator part, none from loss_d."""
    from transformers import VitsConfig, VitsModel

    from kurdish_tts.corpus.dataset import collate
    from kurdish_tts.text.vocabulary import build_tokenizer, builtin_vocabulary
    from kurdish_tts.vits.objective import LossWeights, compute_losses

    values = json.loads((ROOT / "configs/tiny.json").read_text())
    values.pop("discriminator")
    values["use_stochastic_duration_prediction"] = stochastic
    torch.manual_seed(0)
    model, discriminator = VitsModel(VitsConfig(**values)), VitsDiscriminator(TINY_DISCRIMINATOR)
    tokenizer = build_tokenizer(builtin_vocabulary())
    items = [{"input_ids": torch.tensor(tokenizer(text).input_ids), "waveform": torch.randn(256 * n) * 0.1,
              "speaker_id": None, "clip_id": str(n)} for text, n in (("ez im", 40), ("rojbaş", 60))]
    batch = collate(items)
    loss_g, loss_d, metrics, out = compute_losses(model, discriminator, batch, FeatureConfig(), LossWeights())
    assert all(math.isfinite(v) for v in metrics.values())
    assert out.path.sum(1).eq(1).logical_or(out.frame_mask.squeeze(1).eq(0)).all()  # one token per frame
    assert torch.equal(out.path.sum((1, 2)), torch.tensor([40.0, 60.0]))  # every frame aligned
    loss_d.backward(inputs=list(discriminator.parameters()), retain_graph=True)
    assert all(p.grad is None for p in model.parameters())
    loss_g.backward(inputs=[p for p in model.parameters()])
    for part in ("text_encoder", "flow", "posterior_encoder", "decoder", "duration_predictor"):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, part).parameters()), part


def test_bf16_autocast_gives_fp32_losses():
    from transformers import VitsConfig, VitsModel

    from kurdish_tts.corpus.dataset import collate
    from kurdish_tts.vits.objective import LossWeights, compute_losses

    values = json.loads((ROOT / "configs/tiny.json").read_text())
    values.pop("discriminator")
    model, discriminator = VitsModel(VitsConfig(**values)), VitsDiscriminator(TINY_DISCRIMINATOR)
    batch = collate([{"input_ids": torch.tensor([0, 5, 0, 9, 0]), "waveform": torch.randn(256 * 20) * 0.1,
                      "speaker_id": None, "clip_id": "a"}])
    duration_dtypes = []
    for module in model.duration_predictor.modules():
        if isinstance(module, torch.nn.Conv1d):
            module.register_forward_hook(lambda m, i, o: duration_dtypes.append(o.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_g, loss_d, _, out = compute_losses(model, discriminator, batch, FeatureConfig(), LossWeights(),
                                                segment_frames=8)
    assert out.waveform_fake.dtype == torch.bfloat16  # the networks did run in bf16
    assert duration_dtypes and set(duration_dtypes) == {torch.float32}  # all of the duration loss in fp32
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the alignment search works on fp32 likelihoods
        assert prior_log_likelihood(out.z_p, out.m_p[..., :5], out.logs_p[..., :5]).dtype == torch.float32
    assert loss_g.dtype == torch.float32 and loss_d.dtype == torch.float32 and math.isfinite(loss_g.item())


def test_prior_log_likelihood_is_the_gaussian_log_density_summed_over_channels():
    from kurdish_tts.vits.generator import prior_log_likelihood

    generator = torch.Generator().manual_seed(3)
    z_p = torch.randn(2, 5, 7, generator=generator)  # [B, C, T_frames]
    m_p = torch.randn(2, 5, 4, generator=generator)  # [B, C, T_text]
    logs_p = 0.3 * torch.randn(2, 5, 4, generator=generator)
    expected = torch.empty(2, 4, 7)
    for b in range(2):
        for t in range(4):
            normal = torch.distributions.Normal(m_p[b, :, t], torch.exp(logs_p[b, :, t]))
            for f in range(7):
                expected[b, t, f] = normal.log_prob(z_p[b, :, f]).sum()
    torch.testing.assert_close(prior_log_likelihood(z_p, m_p, logs_p), expected, rtol=1e-5, atol=1e-4)
    half = prior_log_likelihood(z_p.half(), m_p.half(), logs_p.half())
    assert half.dtype == torch.float32  # computed in fp32 whatever comes in


def test_segments_lie_inside_each_clip_and_take_exactly_those_frames():
    from kurdish_tts.vits.generator import random_segments, take_segments

    torch.manual_seed(0)
    lengths = torch.tensor([10, 40, 32, 5])
    values = torch.arange(4 * 2 * 40, dtype=torch.float32).view(4, 2, 40)
    for _ in range(20):
        starts = random_segments(lengths, 8)
        assert (starts >= 0).all() and (starts[:3] + 8 <= lengths[:3]).all() and starts[3] == 0  # too short: from 0
        taken = take_segments(values, starts, 8)
        for b in range(4):
            torch.testing.assert_close(taken[b], values[b, :, starts[b]:starts[b] + 8])
    assert {int(random_segments(lengths, 8)[1]) for _ in range(200)} == set(range(33))  # every start can come
    padded = take_segments(values[:1, :, :5], torch.tensor([2]), 8)  # past the end: zeros
    assert padded[0, 0].tolist() == [2.0, 3.0, 4.0, 0, 0, 0, 0, 0]
    assert random_segments(torch.tensor([4, 3]), 8).tolist() == [0, 0]  # every clip shorter than a segment
