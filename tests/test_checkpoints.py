"""Resume that checks: a checkpoint records its run's settings and data, a resume with other ones is
refused, the warm-up survives a resume, and a checkpoint can run no code. Through train_vits.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import args_for

import train_vits
from kurdish_tts.corpus.metadata import read_metadata, write_metadata
from kurdish_tts.samples.folders import write_data

# "--discriminator_warmup_steps 2" and "--learning_rate 2e-3" come from args_for


@pytest.fixture
def data(tmp_path) -> Path:
    return write_data(tmp_path / "training")


@pytest.fixture
def saved(data, tmp_path) -> Path:
    """The output folder of a 2-step run that saved checkpoint-2."""
    assert train_vits.main(args_for(data, tmp_path / "run", "--max_steps", 2, "--save_steps", 2)) == 0
    return tmp_path / "run"


def resume_args(data, out, *extra):
    return args_for(data, out, "--max_steps", 3, "--save_steps", 2, "--resume", *extra)


def tensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path))


def test_a_checkpoint_records_its_settings_and_data(saved):
    state = json.loads((saved / "checkpoints" / "checkpoint-2" / "state.json").read_text())
    settings = state["settings"]
    assert settings["learning_rate"] == 2e-3 and settings["batch_size"] == 2 and settings["discriminator_warmup_steps"] == 2
    assert len(settings["data"]) == 64 and state["progress"]["step"] == 2
    assert not list((saved / "checkpoints" / "checkpoint-2").glob("custom_checkpoint_*.pkl"))  # no pickled run state


@pytest.mark.parametrize("extra, named", [
    (["--learning_rate", "1e-3"], "--learning_rate 0.001 (the checkpoint: 0.002)"),
    (["--batch_size", "1", "--gradient_accumulation_steps", "2"],
     "--batch_size 1 (the checkpoint: 2), --gradient_accumulation_steps 2 (the checkpoint: 1)"),
    (["--freeze", "decoder"], "--freeze decoder (the checkpoint: not given)"),
    (["--discriminator_warmup_steps", "0"], "--discriminator_warmup_steps 0 (the checkpoint: 2)"),
    (["--warmup_generator", "reconstruction"], "--warmup_generator reconstruction (the checkpoint: frozen)"),
    (["--weight_kl", "2"], "--weight_kl 2.0 (the checkpoint: 1.0)"),
    (["--acoustic_learning_rate", "1e-3"], "--acoustic_learning_rate 0.001 (the checkpoint: 0.002)"),
])
def test_a_resume_with_other_settings_is_refused_naming_them(data, saved, capsys, extra, named):
    assert train_vits.main(resume_args(data, saved, *extra)) == 1
    err = capsys.readouterr().err.strip()
    assert named in err and len(err.splitlines()) == 1 and "leave out --resume" in err
    assert sorted(p.name for p in (saved / "checkpoints").iterdir()) == ["checkpoint-2"]  # nothing trained


def test_a_checkpoint_from_before_keep_prior_counts_as_the_prior_learning(tmp_path):
    from kurdish_tts.training.errors import CheckpointError
    from kurdish_tts.training.settings import compare_settings

    older = {"learning_rate": 1e-4, "ema_decay": 0.0}  # saved before checkpoints recorded --keep_prior
    assert compare_settings(older, {**older, "keep_prior": "no"}, tmp_path) == []
    with pytest.raises(CheckpointError, match=r"--keep_prior yes \(the checkpoint: no\)"):
        compare_settings(older, {**older, "keep_prior": "yes"}, tmp_path)


def test_a_resume_on_another_number_of_processes_is_refused(data, saved, capsys):
    state = saved / "checkpoints" / "checkpoint-2" / "state.json"
    record = json.loads(state.read_text())
    state.write_text(json.dumps({**record, "settings": {**record["settings"], "processes": 2}}))
    assert train_vits.main(resume_args(data, saved)) == 1
    assert "1 processes (the checkpoint: 2" in capsys.readouterr().err  # each had its share of the batches


def test_a_resume_on_other_data_is_refused(data, saved, capsys):
    clips = read_metadata(data / "metadata.csv")
    write_metadata(data / "metadata.csv", clips[:-1])  # one clip fewer
    assert train_vits.main(resume_args(data, saved)) == 1
    assert "the data (other clips, texts or weights than the checkpoint trained on)" in capsys.readouterr().err


def test_harmless_changes_resume_with_a_notice(data, saved, capsys):
    assert train_vits.main(resume_args(data, saved, "--eval_steps", 7, "--logging_steps", 2)) == 0
    out = capsys.readouterr().out
    assert "notice: --eval_steps 7 (was 1000)" in out and "notice: --logging_steps 2 (was 1)" in out
    assert "trained 1 steps" in out


def test_the_warm_up_leaves_the_generator_alone_and_survives_a_resume(data, tmp_path, capsys):
    out = tmp_path / "warm"
    common = ["--discriminator_warmup_steps", 4, "--save_steps", 2, "--save_total_limit", 5]
    assert train_vits.main(args_for(data, out, *common, "--max_steps", 2)) == 0
    capsys.readouterr()
    assert train_vits.main(args_for(data, out, *common, "--max_steps", 5, "--resume")) == 0
    assert "trained 3 steps" in capsys.readouterr().out  # from the checkpoint, not the same again from step 0
    step = {n: tensors(out / "checkpoints" / f"checkpoint-{n}" / "generator.safetensors") for n in (2, 4, 5)}
    discriminator = {n: tensors(out / "checkpoints" / f"checkpoint-{n}" / "discriminator.safetensors") for n in (2, 4)}
    assert all(torch.equal(step[2][k], step[4][k]) for k in step[2])  # steps 3 and 4 were still the warm-up
    assert any(not torch.equal(discriminator[2][k], discriminator[4][k]) for k in discriminator[2])
    assert any(not torch.equal(step[4][k], step[5][k]) for k in step[4])  # step 5 trains the generator
    history = dict(json.loads((out / "model" / "loss_history.json").read_text()))
    assert [history[n]["warmup"] for n in (1, 2, 3, 4, 5)] == [1.0, 1.0, 1.0, 1.0, 0.0]


def test_a_reconstruction_warm_up_trains_the_generator_without_the_adversarial_losses(data, tmp_path):
    out = tmp_path / "reconstruction"
    assert train_vits.main(args_for(data, out, "--discriminator_warmup_steps", 4, "--warmup_generator", "reconstruction",
                                    "--max_steps", 2, "--save_steps", 1, "--save_total_limit", 5,
                                    "--logging_steps", 1)) == 0
    step = {n: tensors(out / "checkpoints" / f"checkpoint-{n}" / "generator.safetensors") for n in (1, 2)}
    assert any(not torch.equal(step[1][k], step[2][k]) for k in step[1])  # the generator trains in the warm-up
    for _, metrics in json.loads((out / "model" / "loss_history.json").read_text()):
        reconstruction = 45 * metrics["loss_mel"] + metrics["loss_kl"] + metrics["loss_dur"]  # the default weights
        assert metrics["warmup"] == 1.0 and metrics["generator_total"] == pytest.approx(reconstruction, rel=1e-5)


class Planted:
    """What a crafted checkpoint file would do if it were unpickled: create a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


@pytest.mark.parametrize("victim", ["optimizer.bin", "random_states_0.pkl", "LEGACY"])
def test_a_crafted_checkpoint_file_is_refused_and_runs_nothing(data, saved, tmp_path, capsys, victim):
    folder = saved / "checkpoints" / "checkpoint-2"
    marker = tmp_path / "ran"
    if victim == "LEGACY":  # the layout before state.json: the run's state in pickles
        make_legacy(folder)
        victim = "custom_checkpoint_0.pkl"
    torch.save(Planted(marker), folder / victim)
    assert train_vits.main(resume_args(data, saved)) == 1
    err = capsys.readouterr().err.strip()
    assert f"{victim} holds more than tensors and plain values" in err and len(err.splitlines()) == 1
    assert not marker.exists()


def make_legacy(folder: Path) -> None:
    """Turn a checkpoint into the layout checkpoints had before state.json (accelerate's custom states)."""
    state = json.loads((folder / "state.json").read_text())
    values = [tensors(folder / "generator.safetensors"), tensors(folder / "discriminator.safetensors"),
              *state["schedulers"], state["progress"]]
    for index, value in enumerate(values):
        torch.save(value, folder / f"custom_checkpoint_{index}.pkl")
    for name in ("state.json", "generator.safetensors", "discriminator.safetensors"):
        (folder / name).unlink()


def test_a_checkpoint_from_before_settings_were_recorded_resumes_exactly(data, tmp_path, capsys):
    common = ["--save_steps", 2]
    assert train_vits.main(args_for(data, tmp_path / "straight", *common, "--max_steps", 3)) == 0
    assert train_vits.main(args_for(data, tmp_path / "old", *common, "--max_steps", 2)) == 0
    make_legacy(tmp_path / "old" / "checkpoints" / "checkpoint-2")
    capsys.readouterr()
    assert train_vits.main(args_for(data, tmp_path / "old", *common, "--max_steps", 3, "--resume")) == 0
    assert "saved before checkpoints recorded their settings: they are not checked" in capsys.readouterr().out
    straight = tensors(tmp_path / "straight" / "model" / "model.safetensors")
    resumed = tensors(tmp_path / "old" / "model" / "model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_a_damaged_checkpoint_is_one_line(data, saved, capsys):
    folder = saved / "checkpoints" / "checkpoint-2"
    (folder / "generator.safetensors").write_bytes(b"not safetensors")
    assert train_vits.main(resume_args(data, saved)) == 1
    err = capsys.readouterr().err.strip()
    assert "the checkpoint is incomplete or damaged" in err and len(err.splitlines()) == 1


def test_a_save_killed_between_its_renames_leaves_the_complete_checkpoint(tmp_path):
    from kurdish_tts.training.checkpoints import remove_unfinished

    (tmp_path / ".checkpoint-4.old").mkdir()  # the complete checkpoint-4, set aside to be replaced
    (tmp_path / ".checkpoint-4.old" / "progress.json").write_text('{"step": 4}')
    (tmp_path / ".tmp-checkpoint-4").mkdir()  # its replacement, not yet renamed into place
    assert remove_unfinished(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4"]
    assert (tmp_path / "checkpoint-4" / "progress.json").read_text() == '{"step": 4}'
    (tmp_path / ".checkpoint-4.old").mkdir()  # killed after its second rename: the replacement is in place
    assert remove_unfinished(tmp_path) == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4"]


def test_a_resume_finds_a_checkpoint_a_killed_save_set_aside(tmp_path):
    from types import SimpleNamespace

    from kurdish_tts.training.checkpoints import resolve_resume

    (tmp_path / ".checkpoint-6.old").mkdir()  # the only checkpoint, set aside by a save killed mid-way
    (tmp_path / ".checkpoint-6.old" / "progress.json").write_text('{"step": 6}')
    assert resolve_resume(SimpleNamespace(resume="latest", checkpoint_dir=tmp_path)) == tmp_path / "checkpoint-6"
