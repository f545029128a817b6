"""Adversarial training made safe to fine-tune: the discriminator's size, learning rate and scores,
gradient norms, layer drop. Driven through train_vits.main on generated clips with the tiny config."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from helpers import TINY, args_for

import train_vits
from kurdish_tts.samples.folders import write_data
from kurdish_tts.vits.discriminator import DiscriminatorConfig, VitsDiscriminator


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_data(tmp_path_factory.mktemp("adversarial") / "training")


@pytest.fixture(scope="module")
def tiny_model(data, tmp_path_factory) -> Path:
    """A tiny model folder with its discriminator beside it, as train_vits.py saves them."""
    out = tmp_path_factory.mktemp("tiny")
    assert train_vits.main(args_for(data, out, "--max_steps", 1)) == 0
    return out / "model"


def fine_tune_args(data: Path, model: Path, out: Path, *extra) -> list[str]:
    argv = args_for(data, out, "--model_name_or_path", model, *extra)
    init = argv.index("--init_config")
    return argv[:init] + argv[init + 2:]


def parameters(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "discriminator.safetensors"))


def test_a_loaded_discriminator_waits_out_a_reconstruction_warm_up_and_not_a_frozen_one(data, tiny_model, tmp_path,
                                                                                          capsys):
    trained = tiny_model.with_name("model-discriminator")
    assert train_vits.main(fine_tune_args(data, tiny_model, tmp_path / "r", "--discriminator", trained,
                                          "--warmup_generator", "reconstruction", "--max_steps", 3)) == 0
    assert f"(loaded from {trained}, 2 warm-up steps (the generator trains without it))" in capsys.readouterr().out
    history = json.loads((tmp_path / "r" / "model" / "loss_history.json").read_text())
    assert [metrics["warmup"] for _, metrics in history] == [1.0, 1.0, 0.0]
    assert all(metrics["generator_total"] == pytest.approx(45 * metrics["loss_mel"] + metrics["loss_kl"]
                                                           + metrics["loss_dur"], rel=1e-5) for _, metrics in history[:2])
    assert train_vits.main(fine_tune_args(data, tiny_model, tmp_path / "f", "--discriminator", trained,
                                          "--max_steps", 2)) == 0  # --warmup_generator frozen: nothing to wait for
    assert f"(loaded from {trained})" in capsys.readouterr().out
    history = json.loads((tmp_path / "f" / "model" / "loss_history.json").read_text())
    assert [metrics["warmup"] for _, metrics in history] == [0.0, 0.0]


def test_meta_layout_scales_with_the_decoder_and_still_builds():
    assert DiscriminatorConfig.scaled_to(512) == DiscriminatorConfig() == DiscriminatorConfig.scaled_to(2048)
    sizes = {}
    for channels in (512, 256, 128, 64, 32):
        discriminator = VitsDiscriminator(DiscriminatorConfig.scaled_to(channels))
        scores, _ = discriminator(torch.randn(1, 1, 4096))  # the grouped convolutions divide
        assert len(scores) == 6
        sizes[channels] = sum(p.numel() for p in discriminator.parameters())
    assert sizes[512] > 4 * sizes[128] > 16 * sizes[32]


def test_a_fresh_discriminator_takes_the_saved_widths_else_scales_with_the_generator(data, tiny_model, tmp_path, capsys):
    saved = json.loads((tiny_model.with_name("model-discriminator") / "discriminator_config.json").read_text())
    assert train_vits.main(fine_tune_args(data, tiny_model, tmp_path / "a", "--max_steps", 1)) == 0
    out = capsys.readouterr().out
    assert f"fresh, 2 warm-up steps (the generator waits), widths of {tiny_model.with_name('model-discriminator')}" in out
    assert json.loads((tmp_path / "a" / "model-discriminator" / "discriminator_config.json").read_text()) == saved

    # data/pretrained/ keeps model/ and discriminator/ side by side
    layout = tmp_path / "pretrained"
    shutil.copytree(tiny_model, layout / "model")
    widths = DiscriminatorConfig(period_channels=[4, 8, 8, 8, 8], scale_channels=[4, 8, 8, 8, 8, 8],
                                 scale_groups=[1, 1, 1, 1, 1, 1])
    (layout / "discriminator").mkdir()
    (layout / "discriminator" / "discriminator_config.json").write_text(json.dumps(widths.to_dict()))
    assert train_vits.main(fine_tune_args(data, layout / "model", tmp_path / "b", "--max_steps", 1)) == 0
    assert f"widths of {layout / 'discriminator' / 'discriminator_config.json'}" in capsys.readouterr().out
    assert json.loads((tmp_path / "b" / "model-discriminator" / "discriminator_config.json").read_text()) == widths.to_dict()

    # nothing saved beside the model: Meta's layout narrowed to the tiny decoder, not 47 M parameters
    alone = tmp_path / "alone" / "model"
    shutil.copytree(tiny_model, alone)
    assert train_vits.main(fine_tune_args(data, alone, tmp_path / "c", "--max_steps", 1)) == 0
    channels = json.loads(TINY.read_text())["upsample_initial_channel"]
    assert f"Meta's layout scaled for a decoder of {channels} channels" in capsys.readouterr().out
    made = json.loads((tmp_path / "c" / "model-discriminator" / "discriminator_config.json").read_text())
    assert made == DiscriminatorConfig.scaled_to(channels).to_dict()
    assert sum(v.numel() for v in parameters(tmp_path / "c" / "model-discriminator").values()) < 2e6


def test_the_discriminator_has_a_learning_rate_of_its_own(data, tiny_model, tmp_path, capsys):
    start = parameters(tiny_model.with_name("model-discriminator"))
    moved = {}
    for name, rate in (("same", None), ("slow", "1e-12")):
        extra = ["--discriminator", tiny_model.with_name("model-discriminator"), "--max_steps", 2]
        extra += ["--discriminator_learning_rate", rate] if rate else []
        assert train_vits.main(fine_tune_args(data, tiny_model, tmp_path / name, *extra)) == 0
        after = parameters(tmp_path / name / "model-discriminator")
        moved[name] = max(float((after[k] - start[k]).abs().max()) for k in start)
    assert "discriminator 1e-12" in capsys.readouterr().out
    assert moved["same"] > 1e-4 and moved["slow"] < 1e-8


def test_the_bar_and_history_show_the_discriminators_scores_and_both_gradient_norms(data, tmp_path, capsys):
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 4, "--max_grad_norm", "0.5")) == 0
    bar = capsys.readouterr().err
    assert "real=" in bar and "fake=" in bar and "|grad_g|=" in bar and "|grad_d|=" in bar
    history = dict(json.loads((tmp_path / "model" / "loss_history.json").read_text()))
    warming, training = history[1], history[4]  # 2 warm-up steps
    assert "grad_norm_g" not in warming and warming["grad_norm_d"] > 0
    assert training["grad_norm_g"] > 0.5  # the norm before clipping
    for metrics in (warming, training):
        assert -1 < metrics["score_fake"] < 2 and -1 < metrics["score_real"] < 2


@pytest.mark.parametrize("flag, expected", [([], 0.0), (["--layerdrop", "0.3"], 0.3)])
def test_layer_drop_is_off_unless_asked_for(data, tmp_path, monkeypatch, flag, expected):
    from kurdish_tts.training import loop

    config = json.loads(TINY.read_text()) | {"layerdrop": 0.5}  # as MMS's config carries 0.1
    (tmp_path / "drop.json").write_text(json.dumps(config))
    seen = []
    real_step = loop.train_step

    def watching(run, batch):
        seen.append(run.model.text_encoder.encoder.layerdrop)
        return real_step(run, batch)

    monkeypatch.setattr(loop, "train_step", watching)
    assert train_vits.main(args_for(data, tmp_path, "--init_config", tmp_path / "drop.json", "--max_steps", 1, *flag)) == 0
    assert seen == [expected]
    assert json.loads((tmp_path / "model" / "config.json").read_text())["layerdrop"] == 0.5  # the saved config is untouched


def test_impossible_rates_are_refused(data, tmp_path, capsys):
    for extra, message in ((["--layerdrop", "1"], "--layerdrop is a probability"),
                           (["--discriminator_learning_rate", "0"], "--discriminator_learning_rate must be above 0"),
                           (["--acoustic_learning_rate", "0"], "--acoustic_learning_rate must be above 0")):
        with pytest.raises(SystemExit) as exit_:
            train_vits.main(args_for(data, tmp_path, "--max_steps", 1, *extra))
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_prior_parts_have_a_learning_rate_of_their_own(data, tiny_model, tmp_path, capsys):
    from safetensors.torch import load_file

    start = load_file(str(tiny_model / "model.safetensors"))
    extra = ["--discriminator", tiny_model.with_name("model-discriminator"), "--max_steps", 2,
             "--prior_learning_rate", "1e-12"]
    assert train_vits.main(fine_tune_args(data, tiny_model, tmp_path, *extra)) == 0
    assert "text encoder, flow and duration predictor 1e-12" in capsys.readouterr().out
    after = load_file(str(tmp_path / "model" / "model.safetensors"))

    def moved(prefixes):
        return max(float((after[k] - start[k]).abs().max()) for k in start if k.startswith(prefixes))

    assert moved(("text_encoder.", "flow.", "duration_predictor.")) < 1e-6  # folding weight norm is exact to ~1e-7
    assert moved(("decoder.", "posterior_encoder.")) > 1e-4


@pytest.mark.parametrize("extra, acoustic, prior, discriminator", [
    ([], 3e-3, 1e-3, 3e-3),  # fine-tuning: the decoder and posterior encoder at 3x, the discriminator with them
    (["--acoustic_learning_rate", "5e-4"], 5e-4, 1e-3, 5e-4),
    (["--acoustic_learning_rate", "5e-4", "--discriminator_learning_rate", "2e-4", "--prior_learning_rate", "4e-4"],
     5e-4, 4e-4, 2e-4),
    (["from scratch"], 1e-3, 1e-3, 1e-3),  # random weights (--init_config): one rate, as VITS trains
])
def test_each_part_trains_at_its_rate(data, tiny_model, tmp_path, monkeypatch, capsys, extra, acoustic, prior,
                                      discriminator):
    from kurdish_tts.training import run as run_module

    built = []
    real_build = run_module.build_run
    monkeypatch.setattr("kurdish_tts.training.loop.build_run",
                        lambda *a, **k: built.append(real_build(*a, **k)) or built[-1])
    if extra == ["from scratch"]:
        argv = args_for(data, tmp_path, "--max_steps", 1, "--learning_rate", "1e-3")
    else:
        argv = fine_tune_args(data, tiny_model, tmp_path, "--max_steps", 1, "--learning_rate", "1e-3", *extra)
    assert train_vits.main(argv) == 0
    run = built[0]
    groups = {group["part"]: group for group in run.optimizer_g.param_groups}
    names = {id(p): name for name, p in run.model.named_parameters()}
    assert {names[id(p)].split(".")[0] for p in groups["acoustic"]["params"]} == {"decoder", "posterior_encoder"}
    assert {names[id(p)].split(".")[0] for p in groups["prior"]["params"]} == {"text_encoder", "flow",
                                                                                 "duration_predictor"}
    assert groups["acoustic"]["lr"] == pytest.approx(acoustic, rel=1e-3)  # within the per-epoch decay
    assert groups["prior"]["lr"] == pytest.approx(prior, rel=1e-3)
    assert run.optimizer_d.param_groups[0]["lr"] == pytest.approx(discriminator, rel=1e-3)
    assert (f"decoder and posterior encoder {acoustic:g}, text encoder, flow and duration predictor {prior:g}, "
            f"discriminator {discriminator:g}") in capsys.readouterr().out


def test_the_learning_rates_ramp_up_over_lr_warmup_steps_and_the_schedule_is_kept(data, tiny_model, tmp_path,
                                                                                 monkeypatch, capsys):
    seen: dict[int, list[float]] = {}
    real_step = torch.optim.AdamW.step

    def recording(self, *args, **kwargs):
        seen.setdefault(id(self), []).append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording)
    extra = ["--max_steps", 5, "--lr_warmup_steps", 4, "--learning_rate", "1e-3"]  # a fresh discriminator: 2 warm-up steps
    assert train_vits.main(fine_tune_args(data, tiny_model, tmp_path, *extra)) == 0
    assert "rising over 4 updates" in capsys.readouterr().out
    discriminator, generator = sorted(seen.values(), key=len, reverse=True)
    assert discriminator == pytest.approx([7.5e-4, 1.5e-3, 2.25e-3, 3e-3, 3e-3], rel=1e-3)  # the decoder's rate, 3x
    assert generator == pytest.approx([2.5e-4, 5e-4, 7.5e-4], rel=1e-3)  # from the end of the discriminator's warm-up
