"""train_vits.py driven through main(argv) on generated clips with the tiny config."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import ROOT, TINY, args_for, weights

import train_vits
from kurdish_tts.corpus.metadata import Clip, write_metadata
from kurdish_tts.files import UMASK
from kurdish_tts.samples.folders import TEXTS, write_data
from kurdish_tts.samples.signals import speech_like


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_data(tmp_path_factory.mktemp("data") / "training")



def test_short_run_saves_a_model_that_speaks(data, tmp_path, capsys):
    from transformers import pipeline

    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 4, "--eval_steps", 2, "--save_steps", 2,
                                    "--save_total_limit", 1)) == 0
    out = capsys.readouterr().out
    assert out.count("eval: MCD-DTW") == 2 and out.count(", DNSMOS OVRL ") == 2
    model = tmp_path / "model"
    for name in ("config.json", "model.safetensors", "vocab.json", "tokenizer_config.json", "loss_curve.png"):
        assert (model / name).is_file(), name
    card = (model / "README.md").read_text()
    assert "\ntext_normalizer: 2\n" in card.split("---")[1]  # the front matter records the normaliser's version
    assert "Trained from random weights" in card and "license:" not in card and "MMS" not in card.split("## Licence")[1]
    assert "feature-matching losses from step 2, the generator waiting for the discriminator" in card  # frozen warm-up
    assert (tmp_path / "model-discriminator" / "discriminator.safetensors").is_file()
    readable = 0o777 & ~UMASK  # as the user's umask says, not only-the-owner as a temporary folder is made
    assert all(folder.stat().st_mode & 0o777 == readable for folder in (model, tmp_path / "model-discriminator"))
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-4"]  # --save_total_limit 1
    samples = sorted((tmp_path / "model-runs" / "samples").iterdir())
    assert [p.name for p in samples] == ["step-2", "step-4"] and len(list(samples[0].glob("*.wav"))) == 3
    assert list((tmp_path / "model-runs").glob("events.out.tfevents.*"))
    speak = pipeline("text-to-speech", model=str(model))
    audio = np.asarray(speak("ez bîst û pênc salî me")["audio"])
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01


def test_evaluating_does_not_change_the_training_even_with_layer_drop(data, tmp_path):
    common = ["--max_steps", 3, "--layerdrop", 0.5, "--seed", 3]
    assert train_vits.main(args_for(data, tmp_path / "quiet", *common)) == 0
    assert train_vits.main(args_for(data, tmp_path / "evaluated", *common, "--eval_steps", 1)) == 0
    quiet, evaluated = weights(tmp_path / "quiet" / "model"), weights(tmp_path / "evaluated" / "model")
    assert all(torch.equal(quiet[k], evaluated[k]) for k in quiet)  # the layer drops drew the same numbers


@pytest.mark.parametrize("accumulation, split_at, total", [(2, 3, 6), (1, 2, 5)])  # at an epoch's end; mid-epoch
def test_resume_continues_exactly(data, tmp_path, capsys, accumulation, split_at, total):
    common = ["--gradient_accumulation_steps", accumulation, "--save_steps", split_at]
    assert train_vits.main(args_for(data, tmp_path / "straight", *common, "--max_steps", total)) == 0
    assert train_vits.main(args_for(data, tmp_path / "split", *common, "--max_steps", split_at)) == 0
    capsys.readouterr()
    assert train_vits.main(args_for(data, tmp_path / "split", *common, "--max_steps", total, "--resume")) == 0
    out = capsys.readouterr().out  # it went on from the checkpoint: the same seed from step 0 would end the same
    assert f"checkpoint-{split_at} at step {split_at}" in out and f"trained {total - split_at} steps" in out
    straight, split = weights(tmp_path / "straight" / "model"), weights(tmp_path / "split" / "model")
    assert all(torch.equal(straight[k], split[k]) for k in straight)


def test_ema_saves_the_moving_average_of_the_weights_and_resumes_it_exactly(data, tmp_path, capsys):
    from safetensors.torch import load_file

    common = ["--ema_decay", 0.5, "--save_steps", 1, "--save_total_limit", 10]
    assert train_vits.main(args_for(data, tmp_path / "ema", *common, "--max_steps", 4)) == 0
    assert train_vits.main(args_for(data, tmp_path / "plain", "--save_steps", 1, "--max_steps", 4)) == 0
    checkpoints = tmp_path / "ema" / "checkpoints"
    before, after = (load_file(checkpoints / f"checkpoint-{n}" / "ema.safetensors") for n in (3, 4))
    trained = load_file(checkpoints / "checkpoint-4" / "generator.safetensors")
    assert all(torch.allclose(after[k], 0.5 * before[k] + 0.5 * trained[k], atol=1e-6) for k in after)
    assert any(not torch.equal(after[k], trained[k]) for k in after)  # the average lags the weights
    plain_trained = load_file(tmp_path / "plain" / "checkpoints" / "checkpoint-4" / "generator.safetensors")
    assert all(torch.equal(trained[k], plain_trained[k]) for k in trained)  # the average never feeds back
    saved, plain = weights(tmp_path / "ema" / "model"), weights(tmp_path / "plain" / "model")
    assert all(torch.equal(saved[k], weights(checkpoints / "checkpoint-4" / "model")[k]) for k in saved)
    assert any(not torch.equal(saved[k], plain[k]) for k in saved)  # the model saved is the average
    assert train_vits.main(args_for(data, tmp_path / "split", *common, "--max_steps", 2)) == 0
    capsys.readouterr()
    assert train_vits.main(args_for(data, tmp_path / "split", *common, "--max_steps", 4, "--resume")) == 0
    out = capsys.readouterr().out
    assert "checkpoint-2 at step 2" in out and "trained 2 steps" in out
    split = weights(tmp_path / "split" / "model")
    assert all(torch.equal(saved[k], split[k]) for k in saved)


def test_a_new_run_keeps_an_earlier_runs_checkpoints_and_resume_takes_its_own(data, tmp_path, capsys):
    shared = tmp_path / "shared"
    assert train_vits.main(args_for(data, tmp_path / "a", "--checkpoint_dir", shared, "--save_steps", 2,
                                    "--max_steps", 4)) == 0
    second = ["--checkpoint_dir", shared, "--save_steps", 1, "--save_total_limit", 1]
    assert train_vits.main(args_for(data, tmp_path / "b", *second, "--max_steps", 2)) == 0
    # the new run pruned only its own checkpoints (its step 2 took the name of the earlier run's)
    assert sorted(p.name for p in shared.iterdir()) == ["checkpoint-2", "checkpoint-4"]
    runs = {p.name: json.loads((p / "progress.json").read_text())["run"] for p in shared.iterdir()}
    assert runs["checkpoint-2"] != runs["checkpoint-4"]
    capsys.readouterr()
    assert train_vits.main(args_for(data, tmp_path / "b", *second, "--max_steps", 3, "--resume")) == 0
    out = capsys.readouterr().out
    assert f"resuming from {shared / 'checkpoint-2'} at step 2" in out and "trained 1 steps" in out


def test_data_normalised_by_another_normaliser_version_is_noticed(data, tmp_path, capsys):
    copy = tmp_path / "training"
    shutil.copytree(data, copy)
    (copy / "dataset.json").write_text(json.dumps({"text_normalizer": 2}), encoding="utf-8")
    assert train_vits.main(args_for(copy, tmp_path / "a", "--max_steps", 1)) == 0
    assert "notice:" not in capsys.readouterr().out
    (copy / "dataset.json").write_text(json.dumps({"source": "made before versions were recorded"}), encoding="utf-8")
    assert train_vits.main(args_for(copy, tmp_path / "b", "--max_steps", 1)) == 0
    assert f"notice: {copy / 'dataset.json'} was normalised by text normaliser version 1" in capsys.readouterr().out


def test_num_epochs_counts_micro_batches_across_epochs(data, tmp_path, capsys):
    assert train_vits.main(args_for(data, tmp_path / "one", "--num_epochs", 1)) == 0
    batches = int(re.search(r"trained (\d+) steps", capsys.readouterr().out)[1])  # one step per batch
    assert train_vits.main(args_for(data, tmp_path / "five", "--num_epochs", 5, "--gradient_accumulation_steps", 4)) == 0
    assert f"trained {math.ceil(5 * batches / 4)} steps" in capsys.readouterr().out


def test_a_multi_speaker_model_trains_the_chosen_speaker(data, tmp_path, capsys, monkeypatch):
    from kurdish_tts.scoring import measures

    config = json.loads(TINY.read_text(encoding="utf-8")) | {"num_speakers": 3, "speaker_embedding_size": 8}
    (tmp_path / "three.json").write_text(json.dumps(config), encoding="utf-8")
    common = ["--init_config", tmp_path / "three.json", "--discriminator_warmup_steps", 0, "--max_steps", 3]
    scored_as = []
    real_score = measures.score_model

    def recording_score(*args, settings=None, **kwargs):
        scored_as.append(settings.speaker_id)
        return real_score(*args, settings=settings, **kwargs)

    monkeypatch.setattr(measures, "score_model", recording_score)
    for speaker in (0, 2):
        assert train_vits.main(args_for(data, tmp_path / f"s{speaker}", *common, "--speaker_id", speaker,
                                        "--eval_steps", 3)) == 0
    assert scored_as == [0, 2]  # evaluation speaks as the speaker being trained
    zero, two = (weights(tmp_path / f"s{speaker}" / "model")["embed_speaker.weight"] for speaker in (0, 2))
    assert torch.equal(zero[1], two[1])  # speaker 1 trained in neither run: the same weights (same seed)
    assert not torch.equal(zero[0], two[0]) and not torch.equal(zero[2], two[2])
    assert train_vits.main(args_for(data, tmp_path / "bad", *common, "--speaker_id", 3)) == 1
    assert "--voice: voice '3': this model's voices are 0, 1, 2 (ids 0-2)" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--freeze", "text_encoder", "duration_predictor", "flow", "posterior_encoder", "decoder"],
     "--freeze names every part of the generator"),
    (["--init_config", "BROKEN"], "is not valid JSON"),
    (["--init_config", "LIST"], "holds a list, not an object of config values"),
])
def test_settings_that_cannot_train_are_one_line_errors(data, tmp_path, capsys, extra, message):
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    extra = [str(tmp_path / f"{value.lower()}.json") if value in ("BROKEN", "LIST") else value for value in extra]
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 1, *extra)) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_folder_that_holds_no_model_is_a_one_line_error(data, tmp_path, capsys):
    assert train_vits.main(fine_tune_args(data, tmp_path, tmp_path, "--max_steps", 1)) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path} is not a model folder (no config.json): pass a folder saved by train_vits.py" in err
    assert len(err.strip().splitlines()) == 1


def test_an_output_folder_that_cannot_be_made_is_a_one_line_error(data, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 1, "--output_dir", tmp_path / "file" / "model")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "Not a directory" in err[-1] and not any("Traceback" in line for line in err)


def test_an_output_folder_of_other_files_is_refused_before_training_and_kept(data, tmp_path, capsys):
    listed = (data / "metadata.csv").read_bytes()
    for output in (data, tmp_path / "models"):  # the data folder named by mistake; a folder above the models
        (tmp_path / "models" / "kurdish").mkdir(parents=True, exist_ok=True)
        assert train_vits.main(args_for(data, tmp_path, "--max_steps", 1, "--output_dir", output)) == 1
        err = capsys.readouterr().err.strip()
        assert f"--output_dir: {output} holds files that are not a model's (no config.json)" in err
        assert len(err.splitlines()) == 1
    assert (data / "metadata.csv").read_bytes() == listed and (tmp_path / "models" / "kurdish").is_dir()
    assert not (tmp_path / "checkpoints").exists()  # refused before a step


def test_a_card_of_a_run_inside_its_warm_up_names_the_losses_it_trained_on(data, tmp_path):
    from kurdish_tts.training.card import model_card

    args = train_vits.build_parser().parse_args(["--data_dir", str(data), "--init_config", str(TINY)])
    card = model_card(args, 300, 51, adversarial_start=600)
    assert "duration, KL and mel losses; the adversarial and feature-matching losses join from step 600" in card
    assert "the generator not trained yet" in model_card(args, 300, 51, adversarial_start=600, generator_start=600)
    assert "feature-matching losses, the last two from step 600" in model_card(args, 900, 51, adversarial_start=600)


def test_resume_without_checkpoint_is_an_error(data, tmp_path, capsys):
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 2, "--resume")) == 1
    assert "no checkpoint in" in capsys.readouterr().err
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 2, "--resume", tmp_path / "nope")) == 1
    assert "not a checkpoint folder" in capsys.readouterr().err


def test_mel_loss_falls_when_overfitting(tmp_path):
    small = write_data(tmp_path / "training", TEXTS[:2], eval_count=0)
    assert train_vits.main(args_for(small, tmp_path, "--max_steps", 30, "--discriminator_warmup_steps", 0)) == 0
    history = json.loads((tmp_path / "model" / "loss_history.json").read_text())
    mel = [metrics["loss_mel"] for _, metrics in history]
    assert np.mean(mel[-5:]) < 0.7 * np.mean(mel[:3])


def fine_tune_args(data, out, start: Path, *extra) -> list[str]:
    """args_for, fine-tuning the model folder `start` instead of random weights."""
    argv = args_for(data, out, "--model_name_or_path", start, *extra)
    del argv[argv.index("--init_config"):argv.index("--init_config") + 2]
    return argv


def test_freeze_keeps_those_weights_and_discriminator_loads(data, tmp_path, capsys):
    assert train_vits.main(args_for(data, tmp_path / "a", "--max_steps", 2)) == 0
    first = tmp_path / "a" / "model"
    assert train_vits.main(fine_tune_args(data, tmp_path / "b", first, "--freeze", "decoder", "text_encoder",
                                          "--max_steps", 3, "--discriminator", tmp_path / "a" / "model-discriminator")) == 0
    assert "discriminator 0.06 M (loaded from" in capsys.readouterr().out
    before, after = weights(first), weights(tmp_path / "b" / "model")
    card = (tmp_path / "b" / "model" / "README.md").read_text()  # the licence is the starting folder's
    assert f"Fine-tuned from the model in `{first}` and under its licence (see the README.md" in card
    frozen = [k for k in before if k.startswith(("decoder.", "text_encoder."))]
    trained = [k for k in before if k.startswith("flow.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in trained)


def test_keep_prior_auto_keeps_the_prior_when_the_recordings_fit_it(data, tmp_path, capsys, monkeypatch):
    from transformers import VitsModel, VitsTokenizer

    from kurdish_tts.corpus.dataset import TtsDataset
    from kurdish_tts.corpus.metadata import read_metadata
    from kurdish_tts.training import prior
    from kurdish_tts.vits.features import FeatureConfig

    assert train_vits.main(args_for(data, tmp_path / "a", "--max_steps", 2)) == 0
    start = tmp_path / "a" / "model"
    capsys.readouterr()
    model = VitsModel.from_pretrained(str(start))
    features = FeatureConfig.from_model_config(model.config)
    dataset = TtsDataset(data, read_metadata(data / "metadata.csv"), VitsTokenizer.from_pretrained(str(start)),
                         model.config.sampling_rate, features.hop_length)
    fit = prior.prior_fit(model, dataset, features, "cpu")
    assert fit > 0 and fit == prior.prior_fit(model, dataset, features, "cpu")  # a fixed seed: the same each time
    before = weights(start)
    prior_keys = [k for k in before if k.startswith(prior.PRIOR_PARTS)]
    for name, threshold in (("kept", fit + 1.0), ("learning", fit - 1.0)):  # the fit just under / over the bar
        monkeypatch.setattr(prior, "KEEP_PRIOR_KL", threshold)
        assert train_vits.main(fine_tune_args(data, tmp_path / name, start, "--max_steps", 2, "--save_steps", 1,
                                              "--discriminator_warmup_steps", 0)) == 0
        out = capsys.readouterr().out
        header = next(line for line in out.splitlines() if line.startswith("prior ("))
        shown = float(re.search(r"KL to the model's prior is ([\d.]+)", header).group(1))
        assert header.startswith(f"prior (text encoder, duration predictor, flow): {name}, ")
        assert shown == pytest.approx(fit, abs=0.006)  # what the run printed is what it measured
        # the decoder and posterior encoder: at the rate with the prior kept, at three times it while it learns
        rates = re.search(r"learning rates: decoder and posterior encoder ([\d.e-]+), text encoder, flow and duration "
                          r"predictor ([\d.e-]+), discriminator ([\d.e-]+)", out)
        acoustic, prior_rate, disc = (float(rates.group(i)) for i in (1, 2, 3))
        assert acoustic == disc == pytest.approx(prior_rate * (1 if name == "kept" else 3))
        after = weights(tmp_path / name / "model")
        changed = [k for k in prior_keys if not torch.equal(before[k], after[k])]
        assert (changed == []) == (name == "kept")
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))
        # a kept prior's model is the moving average of its weights (the frozen ones left out), by default
        averaged = (tmp_path / name / "checkpoints" / "checkpoint-2" / "ema.safetensors").is_file()
        assert averaged == (name == "kept") == ("moving average of the generator's weights (decay 0.99, the "
                                                "default with the prior kept)" in out)
    card = (tmp_path / "kept" / "model" / "README.md").read_text()
    assert "frozen: duration_predictor, flow, text_encoder\n- the weights: their moving average over training (decay 0.99)" in card
    # The decision is part of the run: a resume that would decide otherwise is refused.
    assert train_vits.main(fine_tune_args(data, tmp_path / "kept", start, "--max_steps", 3, "--save_steps", 1,
                                          "--discriminator_warmup_steps", 0, "--resume", "--keep_prior", "no")) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("--keep_prior no (the checkpoint: yes); resume with the settings it was trained with, or "
                        "leave out --resume to start a new run")


def test_keep_prior_yes_from_random_weights_is_a_usage_error(data, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_vits.main(args_for(data, tmp_path, "--max_steps", 1, "--keep_prior", "yes"))
    assert exit_info.value.code == 2 and "random weights (--init_config) have none to keep" in capsys.readouterr().err


def test_bf16_autocast_runs(data, tmp_path, monkeypatch):
    from kurdish_tts.training import loop

    autocast, compute_losses = [], loop.compute_losses

    def noting_autocast(*args, **kwargs):
        autocast.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return compute_losses(*args, **kwargs)

    monkeypatch.setattr(loop, "compute_losses", noting_autocast)
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 2, "--mixed_precision", "bf16")) == 0
    assert autocast == [True, True]  # each step's losses computed under bf16 autocast
    history = json.loads((tmp_path / "model" / "loss_history.json").read_text())
    assert all(np.isfinite(list(metrics.values())).all() for _, metrics in history)


def not_finite_on_calls(monkeypatch, spoilt: set[int]) -> list[int]:
    """Make the training losses of the given calls (counted from 1) NaN; -> the calls made so far."""
    from kurdish_tts.training import loop

    calls = []
    compute_losses = loop.compute_losses

    def sometimes_not_finite(*args, **kwargs):
        loss_g, loss_d, metrics, out = compute_losses(*args, **kwargs)
        calls.append(len(calls) + 1)
        if calls[-1] in spoilt:
            return loss_g * float("nan"), loss_d, dict(metrics, generator_total=float("nan")), out
        return loss_g, loss_d, metrics, out

    monkeypatch.setattr(loop, "compute_losses", sometimes_not_finite)
    return calls


@pytest.mark.parametrize("accumulation", [1, 2])
def test_non_finite_losses_stop_the_run_counting_steps(data, tmp_path, capsys, monkeypatch, accumulation):
    calls = not_finite_on_calls(monkeypatch, set(range(1, 100)))
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 5, "--gradient_accumulation_steps", accumulation,
                                    "--max_nonfinite_steps", 2, "--discriminator_warmup_steps", 0)) == 1
    assert "2 optimiser steps in a row with non-finite losses or gradients at step 0" in capsys.readouterr().err
    assert len(calls) == 2  # the first micro-batch of each step: the rest of a spoilt step is passed over


@pytest.mark.parametrize("accumulation, spoilt, computed", [
    (1, {2}, 4),  # 3 steps and the spoilt one
    (2, {1}, 7),  # the spoilt step's second micro-batch is passed over: 1 + 3 x 2
    (2, {4}, 8),  # the last micro-batch of step 2 drops the gradients of its first
])
def test_a_non_finite_loss_skips_its_whole_optimiser_step(data, tmp_path, capsys, monkeypatch, accumulation, spoilt,
                                                          computed):
    calls = not_finite_on_calls(monkeypatch, spoilt)
    common = ["--gradient_accumulation_steps", accumulation, "--discriminator_warmup_steps", 0, "--seed", 7]
    assert train_vits.main(args_for(data, tmp_path / "spoilt", *common, "--max_steps", 3)) == 0
    assert len(calls) == computed
    out = capsys.readouterr().out
    assert "trained 3 steps" in out and "(1 optimiser steps skipped for non-finite losses or gradients)" in out
    history = json.loads((tmp_path / "spoilt" / "model" / "loss_history.json").read_text())
    assert [step for step, _ in history] == [1, 2, 3] and all(math.isfinite(m["generator_total"]) for _, m in history)


def test_finite_losses_with_non_finite_gradients_skip_the_step_and_the_weights_stay_finite(data, tmp_path, capsys,
                                                                                           monkeypatch):
    from kurdish_tts.training import loop

    class NanGradient(torch.autograd.Function):  # passes the loss on as it is, and NaN back
        @staticmethod
        def forward(ctx, value):
            return value.clone()

        @staticmethod
        def backward(ctx, grad):
            return grad * float("nan")

    calls, compute_losses = [], loop.compute_losses

    def nan_gradients_once(*args, **kwargs):
        loss_g, loss_d, metrics, out = compute_losses(*args, **kwargs)
        calls.append(1)
        return (NanGradient.apply(loss_g) if len(calls) == 2 else loss_g), loss_d, metrics, out

    monkeypatch.setattr(loop, "compute_losses", nan_gradients_once)
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 3, "--discriminator_warmup_steps", 0)) == 0
    out = capsys.readouterr().out
    assert "trained 3 steps" in out and "(1 optimiser steps skipped for non-finite losses or gradients)" in out
    assert all(torch.isfinite(value).all() for value in weights(tmp_path / "model").values())


def test_a_spoilt_step_leaves_no_gradients_to_the_next(data, tmp_path, monkeypatch):
    """A non-finite loss in the middle of an accumulated step drops the gradients of the micro-batches
    before it: the next step starts from none, as every step does."""
    from kurdish_tts.training import loop

    held = []
    compute_losses = loop.compute_losses

    def note_gradients(model, discriminator, *args, **kwargs):
        held.append(any(p.grad is not None for p in [*model.parameters(), *discriminator.parameters()]))
        return compute_losses(model, discriminator, *args, **kwargs)

    monkeypatch.setattr(loop, "compute_losses", note_gradients)
    not_finite_on_calls(monkeypatch, {2})  # the second of step 1's three micro-batches
    assert train_vits.main(args_for(data, tmp_path, "--gradient_accumulation_steps", 3, "--max_steps", 3,
                                    "--discriminator_warmup_steps", 0)) == 0
    # step 1: micro-batches 1 and 2 (spoilt; the third passed over), then three steps of three
    assert held == [False, True, False, True, True, False, True, True, False, True, True]


@pytest.mark.parametrize("problem, message", [
    ("missing", "missing wav"),
    ("rate", "sample rate is not 16000 Hz"),
    ("text", "characters the model cannot say"),
    ("empty", "empty text"),
    ("short", "too short for their text"),
    ("held out", "in both metadata.csv and metadata_eval.csv"),
    ("stereo", "more than one channel"),
])
def test_bad_data_is_refused_before_training(tmp_path, capsys, problem, message):
    data = write_data(tmp_path / "training", eval_count=0)
    clips = [Clip(f"c{i}.wav", t) for i, t in enumerate(TEXTS)]
    if problem == "missing":
        (data / "wavs" / "c3.wav").unlink()
    elif problem == "rate":
        sf.write(data / "wavs" / "c3.wav", speech_like(2.0, 22050), 22050)
    elif problem == "text":
        clips[3] = Clip("c3.wav", "ez 25 salî me!")
    elif problem == "empty":
        clips[3] = Clip("c3.wav", "")
    elif problem == "stereo":
        sf.write(data / "wavs" / "c3.wav", np.stack([speech_like(2.0, 16000)] * 2, axis=1), 16000)
    elif problem == "held out":  # one file of each of two prepare_data.py runs
        write_metadata(data / "metadata_eval.csv", [clips[3], Clip("c9.wav", clips[3].text)])
        (data / "wavs" / "c9.wav").write_bytes((data / "wavs" / "c3.wav").read_bytes())
    else:
        clips[3] = Clip("c3.wav", "ez " * 40)
    write_metadata(data / "metadata.csv", clips)
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", 1)) == 1
    err = capsys.readouterr().err
    assert message in err and "c3.wav" in err and len(err.strip().splitlines()) == 1


def test_metadata_with_a_byte_order_mark_trains_and_one_not_in_utf8_is_a_one_line_error(tmp_path, capsys):
    data = write_data(tmp_path / "training", eval_count=0)
    listed = (data / "metadata.csv").read_text(encoding="utf-8")
    (data / "metadata.csv").write_bytes(b"\xef\xbb\xbf" + listed.encode("utf-8"))  # as Notepad saves it
    assert train_vits.main(args_for(data, tmp_path / "bom", "--max_steps", 1)) == 0
    (data / "metadata.csv").write_bytes(listed.encode("cp1252", errors="replace"))  # "rojbaş tu çawa yî": ç is 0xe7
    capsys.readouterr()
    assert train_vits.main(args_for(data, tmp_path / "cp1252", "--max_steps", 1)) == 1
    err = capsys.readouterr().err.strip()
    assert f"{data / 'metadata.csv'} is not UTF-8 text" in err and "save it as UTF-8" in err and len(err.splitlines()) == 1


def test_offline_hub_model_and_fp16_on_cpu(data, tmp_path, capsys):
    args = args_for(data, tmp_path, "--max_steps", 1)
    init = args.index("--init_config")
    assert train_vits.main(args[:init] + args[init + 2:]) == 1
    assert "model hub is unreachable" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        train_vits.main(args + ["--mixed_precision", "fp16"])
    assert exit_info.value.code == 2 and "--mixed_precision fp16 needs a CUDA GPU" in capsys.readouterr().err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_saves_a_checkpoint_and_resume_goes_on(data, tmp_path, stop, capsys):
    command = [sys.executable, str(ROOT / "train_vits.py"), *args_for(data, tmp_path, "--max_steps", 500)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, HF_HUB_OFFLINE="1"))
    read: list[str] = []  # its standard error as it comes: the progress bar shows when a step is done
    reader = threading.Thread(target=lambda: read.extend(iter(lambda: process.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not re.search(r"\b[1-9]\d*/500\b", "".join(read)) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(stop)
    process.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(read)
    assert process.returncode == 130, err[-500:]
    checkpoints = list((tmp_path / "checkpoints").glob("checkpoint-*"))
    assert len(checkpoints) == 1 and "continue with --resume" in err
    step = json.loads((checkpoints[0] / "progress.json").read_text())["step"]
    assert 0 < step < 500
    (tmp_path / "checkpoints" / ".tmp-checkpoint-999").mkdir()  # what a save killed halfway leaves
    capsys.readouterr()
    assert train_vits.main(args_for(data, tmp_path, "--max_steps", step + 1, "--resume")) == 0
    out = capsys.readouterr().out
    assert f"at step {step}" in out and "trained 1 steps" in out  # on from the signal's step, not from 0
    assert "removed 1 half-written checkpoint(s)" in out and not (tmp_path / "checkpoints" / ".tmp-checkpoint-999").exists()


@pytest.mark.parametrize("stochastic", [True, False])
def test_gradient_accumulation_matches_the_big_batch(tmp_path, monkeypatch, stochastic):
    """2 micro-batches of 2 with accumulation 2 give the gradients of one batch of 4.

    Exact only without randomness that depends on the batch split: no dropout, clips of equal
    length decoded whole, and the stochastic duration predictor's noise the same for every
    utterance (the posterior encoder's noise then comes from the random generator in the same order).
    """
    from kurdish_tts.corpus.dataset import collate
    from kurdish_tts.training import loop
    from kurdish_tts.training import run as runs
    from kurdish_tts.vits import duration

    config = json.loads(TINY.read_text())
    config.update(use_stochastic_duration_prediction=stochastic, hidden_dropout=0.0, attention_dropout=0.0,
                  activation_dropout=0.0, duration_predictor_dropout=0.0, layerdrop=0.0)
    pattern = lambda batch, tokens, like: torch.sin(torch.arange(2 * tokens, dtype=like.dtype)).view(1, 2, tokens).expand(
        batch, 2, tokens).to(like.device)
    monkeypatch.setattr(duration, "posterior_noise", pattern)
    (tmp_path / "config.json").write_text(json.dumps(config))
    texts = ["ez ji te hez dikim", "rojbaş tu çawa yîn", "em ê sibê biçin av", "hewa pir xweş e ez"]
    assert len(set(map(len, texts))) == 1
    data = write_data(tmp_path / "training", texts, seconds=lambda i: 1.6, eval_count=0)

    def captured_gradients(accumulation: int, micro_batches: list[list[int]], scale: float | None = None):
        parser = train_vits.build_parser()
        args = parser.parse_args(args_for(data, tmp_path / f"acc{accumulation}", "--init_config", tmp_path / "config.json",
                                          "--gradient_accumulation_steps", accumulation, "--segment_frames", 128,
                                          "--discriminator_warmup_steps", 0))
        run = runs.build_run(args, [Clip(f"c{i}.wav", t) for i, t in enumerate(texts)], [], None)
        if scale is not None:  # what fp16 on a GPU does to the gradients, on the CPU
            run.accelerator.scaler = torch.amp.GradScaler("cpu", init_scale=scale)
        seen = {}
        for prefix, optimizer, network in (("g.", run.optimizer_g, run.model), ("d.", run.optimizer_d, run.discriminator)):
            def record_then_step(*a, step=optimizer.optimizer.step, network=network, prefix=prefix, **k):
                seen.update({prefix + n: p.grad.clone() for n, p in network.named_parameters() if p.grad is not None})
                return step(*a, **k)

            optimizer.optimizer.step = record_then_step
        for indices in micro_batches:
            loop.train_step(run, collate([run.dataset[i] for i in indices]))
        return seen

    whole = captured_gradients(1, [[0, 1, 2, 3]])
    for other in (captured_gradients(2, [[0, 1], [2, 3]]), captured_gradients(1, [[0, 1, 2, 3]], scale=2.0**12)):
        assert whole.keys() == other.keys() and sum(n.startswith("g.") for n in whole) > 50
        for name in whole:
            torch.testing.assert_close(other[name], whole[name], rtol=1e-4, atol=1e-6, msg=name)


def launch_two_processes(*command) -> subprocess.CompletedProcess:
    """Two CPU processes on a free port, as TRAINING_README.md shows (torchrun; accelerate reads its environment).
    The port is free when probed and may be taken before the processes bind it (once in CI a rank then
    aborted in its process-group set-up): a launch whose rank died of a signal is tried once more, on
    another port."""
    import socket

    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                               str(port), *map(str, command)], check=False, cwd=ROOT, capture_output=True, text=True,
                              timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1", ACCELERATE_USE_CPU="yes"))
        if done.returncode == 0 or "(exitcode: -" not in done.stderr:  # success, or a failure of the run itself
            return done
    return done


def test_two_processes_train_on_different_clips_and_keep_the_same_weights(data, tmp_path):
    done = launch_two_processes(ROOT / "tests" / "distributed_check.py", data, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads((tmp_path / "distributed.json").read_text())
    assert seen["processes"] == 2 and seen["finite"] and seen["changed"]
    assert set(seen["clips"][0]).isdisjoint(seen["clips"][1])  # each process its own share of the epoch
    assert seen["difference"] < 1e-6  # gradients averaged: one update for both


def test_the_whole_script_runs_on_two_processes(data, tmp_path):
    done = launch_two_processes("train_vits.py", *args_for(data, tmp_path, "--max_steps", 3, "--save_steps", 2))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "steps: 3 of batch 2 x 1 on 2 processes" in done.stdout
    assert (tmp_path / "model" / "model.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-3"]


def test_the_card_names_the_licence_of_what_the_model_came_from(tmp_path):
    from argparse import Namespace

    from kurdish_tts.text.vocabulary import MMS_KURMANJI
    from kurdish_tts.training.card import model_licence

    assert model_licence(Namespace(init_config=tmp_path / "c.json", model_name_or_path=MMS_KURMANJI))[0] is None
    assert model_licence(Namespace(init_config=None, model_name_or_path=MMS_KURMANJI))[0] == "cc-by-nc-4.0"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "README.md").write_text("---\nlicense: cc-by-nc-4.0\nlanguage: kmr\n---\n# a voice\n", encoding="utf-8")
    licence, note = model_licence(Namespace(init_config=None, model_name_or_path=str(folder)))
    assert licence == "cc-by-nc-4.0" and f"`{folder}`" in note
