"""train_feedback.py: intake, listing, weighted rounds, archiving, and nothing lost on the way."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import ROOT, TINY, recording

import train_feedback
import train_vits
from kurdish_tts.corpus.dataset import LengthBucketSampler
from kurdish_tts.feedback import installation
from kurdish_tts.feedback.store import FeedbackStore
from kurdish_tts.samples.folders import write_data
from kurdish_tts.samples.signals import encode, speech_like
from kurdish_tts.training import TrainingError


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A workspace with base data and a tiny trained model in models/kurdish (+ its discriminator)."""
    root = tmp_path_factory.mktemp("workspace")
    write_data(root / "training")
    assert train_vits.main(["--data_dir", str(root / "training"), "--init_config", str(TINY), "--output_dir",
                            str(root / "models" / "kurdish"), "--checkpoint_dir", str(root / "ck"), "--max_steps", "1",
                            "--batch_size", "2", "--gradient_accumulation_steps", "1", "--eval_steps", "1000"]) == 0
    return root


@pytest.fixture
def workspace(base, tmp_path) -> Path:
    shutil.copytree(base, tmp_path / "w")
    return tmp_path / "w"


def folders(workspace: Path, argv) -> list[str]:
    """The workspace's folders for a run of train_feedback.py (the checkpoints only for a training round)."""
    common = ["--data_dir", str(workspace / "training"), "--output_dir", str(workspace / "models" / "kurdish")]
    if not {"--add_sample", "--add_batch", "--list", "--rollback"} & set(map(str, argv)):
        common += ["--checkpoint_dir", str(workspace / "fck")]
    return common + list(map(str, argv))


def feedback(workspace: Path, *argv) -> int:
    return train_feedback.main(folders(workspace, argv))


def round_args(*extra) -> list[str]:
    """A short round of the tiny random model. Its speech is noise before and after, so the install
    check's verdict is chance: these rounds install whatever it says (its own tests use the stand-in)."""
    return ["--max_steps", 2, "--batch_size", 2, "--gradient_accumulation_steps", 1, "--eval_steps", 1000,
            "--learning_rate", 1e-2, "--asr_model", "none", "--force_install", *extra]


def pending(workspace: Path) -> list[dict]:
    path = workspace / "training" / "feedback" / "pending" / "entries.json"
    return json.loads(path.read_text()) if path.is_file() else []


def archived(workspace: Path) -> list[dict]:
    return [e for folder in sorted((workspace / "training" / "feedback" / "archive").glob("2*"))
            for e in json.loads((folder / "entries.json").read_text())]


def weights_of(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_add_list_train_archive(workspace, tmp_path, capsys):
    first = recording(tmp_path, "one.mp3", 1, rate=44100, channels=2)
    second = recording(tmp_path, "two.wav", 2, rate=22050)
    assert feedback(workspace, "--add_sample", first, "Ez 25 salî me.", "--speaker", "amed", "--source", "app") == 0
    assert "notice: --speaker is now spelt --donor" in capsys.readouterr().err  # the older spelling still works
    assert feedback(workspace, "--add_sample", second, "Rast nivîs") == 0
    entries = pending(workspace)
    assert [e["text"] for e in entries] == ["ez bîst û pênc salî me", "rast nivîs"]
    assert entries[0]["donor"] == "amed" and entries[0]["source"] == "app" and entries[0]["added"].endswith("Z")
    wav = workspace / "training" / "feedback" / "pending" / "wavs" / entries[0]["file"]
    info = sf.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    capsys.readouterr()
    assert feedback(workspace, "--list") == 0
    minutes = sum(e["seconds"] for e in entries) / 60
    assert f"pending: 2 clips, {minutes:.1f} min" in capsys.readouterr().out

    before = weights_of(workspace / "models" / "kurdish")
    assert feedback(workspace, *round_args("--archive_feedback")) == 0
    after = weights_of(workspace / "models" / "kurdish")
    assert any(not torch.equal(before[k], after[k]) for k in before)
    backups = list((workspace / "models").glob("kurdish-2*"))
    assert len(backups) == 1 and all(torch.equal(before[k], weights_of(backups[0])[k]) for k in before)
    assert pending(workspace) == [] and [e["id"] for e in archived(workspace)] == [e["id"] for e in entries]
    info = json.loads(next((workspace / "training" / "feedback" / "archive").glob("2*/round.json")).read_text())
    assert info["model"].endswith("kurdish") and info["clips"] == 2 and info["feedback_only"] is False
    assert info["model_sha256"] == sha256_of(workspace / "models" / "kurdish" / "model.safetensors")
    assert info["model_saved"].endswith("Z") and info["model_saved"] <= info["archived"]
    assert not list((workspace / "training" / "feedback" / "pending" / "wavs").iterdir())
    capsys.readouterr()
    assert feedback(workspace, *round_args()) == 1
    assert "no feedback pending in" in capsys.readouterr().err  # nothing pending any more

    capsys.readouterr()
    assert feedback(workspace, "--list") == 0
    out = capsys.readouterr().out
    assert "pending: 0 clips, 0.0 min" in out and f"archived in 1 rounds: 2 clips, {minutes:.1f} min" in out
    assert "rast nivîs" in out and "ez bîst û pênc salî me" in out  # the newest archived entries
    assert f"2 clips -> {info['model']} (weights sha256 {info['model_sha256'][:12]})" in out

    # The next round moves that model to a dated backup: the record still finds it by its weights.
    assert feedback(workspace, "--add_sample", recording(tmp_path, "three.wav", 3), "ya sêyem") == 0
    assert feedback(workspace, *round_args("--archive_feedback")) == 0
    holders = [folder.name for folder in (workspace / "models").glob("kurdish*")
               if (folder / "model.safetensors").is_file()
               and sha256_of(folder / "model.safetensors") == info["model_sha256"]]
    assert len(holders) == 1 and holders[0].startswith("kurdish-2")


@pytest.mark.parametrize("weight", [5.0, 2.5])
def test_sampler_draws_feedback_weight_times_as_often(weight):
    base_count, feedback_count = 40, 10
    weights = [1.0] * base_count + [weight] * feedback_count
    sampler = LengthBucketSampler([16000] * 50, batch_size=5, seed=0, weights=weights)
    draws = np.zeros(50)
    for epoch in range(300):
        sampler.set_epoch(epoch)
        for batch in sampler:
            np.add.at(draws, batch, 1)
    ratio = draws[base_count:].mean() / draws[:base_count].mean()
    assert abs(ratio - weight) / weight < 0.08


def test_duplicates_and_replacement(workspace, tmp_path, capsys):
    clip = recording(tmp_path, "a.wav", 3)
    assert feedback(workspace, "--add_sample", clip, "ez im, tu yî") == 0
    assert feedback(workspace, "--add_sample", clip, "ez im, tu yî") == 0
    assert "already pending" in capsys.readouterr().out
    copy = tmp_path / "copy.wav"
    shutil.copy(clip, copy)
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"audio": "copy.wav", "text": "tu yî, ne ez", "id": "other"}) + "\n")
    assert feedback(workspace, "--add_batch", batch) == 0  # same audio under another id: not stored twice
    assert "duplicate" in capsys.readouterr().out and len(pending(workspace)) == 1
    the_id = pending(workspace)[0]["id"]
    batch.write_text(json.dumps({"audio": "a.wav", "text": "ez ne ez im", "id": the_id}) + "\n")
    assert feedback(workspace, "--add_batch", batch) == 0
    assert "replaced" in capsys.readouterr().out
    assert [e["text"] for e in pending(workspace)] == ["ez ne ez im"]


def test_a_trained_correction_sent_again_never_displaces_the_newer_one(workspace, tmp_path, capsys):
    recording(tmp_path, "old.wav", 11)  # the batch below names it
    new = recording(tmp_path, "new.wav", 12)
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"audio": "old.wav", "text": "yek heye", "id": "x"}) + "\n")
    assert feedback(workspace, "--add_batch", batch) == 0
    store = FeedbackStore(workspace / "training")
    store.archive_entries(store.pending_entries(), {"model": "m"})  # as a round with --archive_feedback does
    (tmp_path / "n.jsonl").write_text(json.dumps({"audio": "new.wav", "text": "du heb hene", "id": "x"}) + "\n")
    assert feedback(workspace, "--add_batch", tmp_path / "n.jsonl") == 0
    capsys.readouterr()
    assert feedback(workspace, "--add_batch", batch) == 0  # the trained one, once more
    assert "duplicate (archived in" in capsys.readouterr().out
    assert feedback(workspace, "--list") == 0
    [entry] = pending(workspace)
    assert entry["text"] == "du heb hene" and entry["sha256"] == sha256_of(new)


def test_a_replace_killed_before_its_record_keeps_the_old_entry_with_its_own_audio(workspace, tmp_path, monkeypatch):
    recording(tmp_path, "a.wav", 13), recording(tmp_path, "b.wav", 14)
    for name, text in (("a", "yek heye"), ("b", "du heb hene")):
        (tmp_path / f"{name}.jsonl").write_text(json.dumps({"audio": f"{name}.wav", "text": text, "id": "x"}) + "\n")
    assert feedback(workspace, "--add_batch", tmp_path / "a.jsonl") == 0
    [before] = pending(workspace)
    wavs = workspace / "training" / "feedback" / "pending" / "wavs"
    audio_before = (wavs / before["file"]).read_bytes()
    monkeypatch.setattr(FeedbackStore, "_write_pending", lambda self, entries: (_ for _ in ()).throw(
        KeyboardInterrupt("killed")))
    with pytest.raises(KeyboardInterrupt):
        feedback(workspace, "--add_batch", tmp_path / "b.jsonl")
    monkeypatch.undo()
    assert pending(workspace) == [before] and (wavs / before["file"]).read_bytes() == audio_before
    assert feedback(workspace, "--add_sample", recording(tmp_path, "c.wav", 16), "sê heb hene") == 0  # the next intake
    assert sorted(p.name for p in wavs.iterdir()) == sorted(e["file"] for e in pending(workspace))  # no unlisted wav
    assert before in pending(workspace)


def test_rows_that_cannot_be_stored_are_rejected_one_by_one(workspace, tmp_path, capsys):
    recording(tmp_path, "a.wav", 15)
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"audio": "a.wav", "text": "yek heye", "id": "x" * 300}) + "\n"
                     + json.dumps({"audio": "a.wav", "text": "yek heye", "id": "short"}) + "\n")
    assert feedback(workspace, "--add_batch", batch) == 1
    out = capsys.readouterr().out
    assert "row 1: rejected: id 'xxxx" in out and "at most 100" in out and "row 2: added: short" in out
    assert train_feedback.main(["--data_dir", str(tmp_path / "a.wav"), "--add_sample", str(tmp_path / "a.wav"),
                                "ez hatim"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "Not a directory" in err[-1] and not any("Traceback" in line for line in err)
    with pytest.raises(SystemExit) as exit_info:
        feedback(workspace, "--feedback_weight", "nan")
    assert exit_info.value.code == 2 and "--feedback_weight must be a number above 0" in capsys.readouterr().err


def test_intake_cleans_as_the_base_data_was_prepared(workspace, tmp_path):
    record = {"arguments": {"normalize": "rms", "min_duration": 0.5, "trim_db": 40.0, "target_sr": 16000}}
    (workspace / "training" / "dataset.json").write_text(json.dumps(record), encoding="utf-8")
    assert feedback(workspace, "--add_sample", recording(tmp_path, "short.wav", 17, seconds=0.8), "av e") == 0  # 1 s by default
    [entry] = pending(workspace)
    audio, rate = sf.read(workspace / "training" / "feedback" / "pending" / "wavs" / entry["file"])
    rms_db = 20 * np.log10(np.sqrt(np.mean(audio ** 2)))
    assert rate == 16000 and abs(rms_db - (-20.0)) < 0.5  # the base data's --normalize rms, not peak


def test_batch_with_good_and_bad_rows_stores_the_good(workspace, tmp_path, capsys):
    folder = tmp_path / "export"
    folder.mkdir()
    recording(folder, "good1.wav", 11)
    recording(folder, "good2.mp3", 12)
    recording(folder, "good3.wav", 13)
    (folder / "broken.wav").write_bytes(b"not audio")
    (folder / "batch.csv").write_text("audio,text,id,speaker,source\n"
                                      "good1.wav,Rojbaş,g1,amed,app\n"
                                      "broken.wav,Rojbaş,,,\n"
                                      "good2.mp3,Ez 3 sêv dixwim,g2,,\n"
                                      "gone.wav,Rojbaş,,,\n"
                                      "good1.wav,,g3,,\n"
                                      "good3.wav,Rojbaş,g4,,,surplus\n"
                                      "good3.wav\n", encoding="utf-8")
    assert feedback(workspace, "--add_batch", folder / "batch.csv") == 1
    out = capsys.readouterr().out
    assert "2 stored, 5 rejected" in out and "row 2: rejected" in out and "row 5: rejected" in out
    assert "row 6: rejected: 1 more fields than the header" in out and "row 7: rejected: no text" in out
    assert [e["id"] for e in pending(workspace)] == ["g1", "g2"]
    assert pending(workspace)[0]["donor"] == "amed"  # the column's older name, "speaker", is read as the donor


def test_json_lines_batch_rejects_each_bad_row_and_stores_the_good(workspace, tmp_path, capsys):
    recording(tmp_path, "a.wav", 14)
    recording(tmp_path, "b.wav", 15)
    lines = [json.dumps({"audio": "a.wav", "text": "yek heye", "id": "j1", "note": "dengê dirêj"}),
             "17", "null", '"a.wav"', '["a.wav", "yek heye"]',
             json.dumps({"audio": None, "text": "yek heye"}),
             json.dumps({"audio": "a.wav"}),
             json.dumps({"audio": "a.wav", "text": "yek heye", "duration": 2.0}),
             json.dumps({"audio": "a.wav", "text": "yek heye", "id": 5}),
             '{"audio": "a.wav", "text": ',
             "",
             json.dumps({"audio": str(tmp_path / "b.wav"), "text": "du heb hene", "id": "j2"})]
    (tmp_path / "batch.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert feedback(workspace, "--add_batch", tmp_path / "batch.jsonl") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "row 1: added: j1" and out[-2] == "row 11: added: j2"
    assert [line.split(": ")[0] for line in out[1:-2]] == [f"row {n}" for n in range(2, 11)]
    assert all(": rejected: " in line for line in out[1:-2])
    assert "not an object" in out[1] and "not an object" in out[2] and "no audio path" in out[5]
    assert "no text" in out[6] and "unknown key duration" in out[7] and "id must be text" in out[8]
    assert "not JSON" in out[9] and out[-1] == "2 stored, 9 rejected, 0 already there"
    assert [(e["id"], e["note"]) for e in pending(workspace)] == [("j1", "dengê dirêj"), ("j2", "")]


def test_a_json_line_nested_too_deeply_is_one_rejected_row(workspace, tmp_path, capsys):
    recording(tmp_path, "a.wav", 18)
    lines = ["[" * 100_000, json.dumps({"audio": "a.wav", "text": "yek heye"})]
    (tmp_path / "deep.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert feedback(workspace, "--add_batch", tmp_path / "deep.jsonl") == 1
    out = capsys.readouterr().out.splitlines()
    assert "row 1: rejected: " in out[0] and "not JSON" in out[0] and out[1].startswith("row 2: added: ")


@pytest.mark.parametrize("name, content, message", [
    ("batch.jsonl", "audio,text\na.wav,yek\n", "no line is JSON"),
    ("batch.csv", "audio,words\na.wav,yek\n", "the CSV header must name audio and text"),
    ("batch.csv", "", "got nothing"),
    ("batch.csv", b"audio,text\n\xff\xfe.wav,yek\n", "cannot read it as UTF-8 text"),
    ("batch.csv", "audio,text\n\"a.wav,yek\n", "not a readable CSV file"),
    ("missing.csv", None, "not found"),
])
def test_unreadable_batch_file_is_one_error(workspace, tmp_path, capsys, name, content, message):
    recording(tmp_path, "a.wav", 16)
    if content is not None:
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    assert feedback(workspace, "--add_batch", tmp_path / name) == 1
    captured = capsys.readouterr()
    assert message in captured.err and len(captured.err.strip().splitlines()) == 1 and "row" not in captured.out
    assert pending(workspace) == []


@pytest.mark.parametrize("make, text, message", [
    (lambda d: d / "missing.wav", "ez", "cannot read the file"),
    (lambda d: (d / "x.wav").write_bytes(b"RIFF....garbage") and d / "x.wav", "ez", "undecodable audio"),
    (lambda d: (d / "s.wav").write_bytes(encode(np.zeros(32000, np.float32), 16000, "WAV")) and d / "s.wav", "ez", "silent"),
    (lambda d: recording(d, "short.wav", 4, seconds=0.3), "ez", "too short"),
    (lambda d: recording(d, "long.wav", 5, seconds=16.0), "ez", "too long"),
    (lambda d: recording(d, "e.wav", 6), "", "nothing the model can say"),
    # the donation checks: clipping, loudness and letters a second, on the upload as it came
    (lambda d: (d / "c.wav").write_bytes(encode(np.clip(6 * speech_like(2.0, 16000, 8), -1, 1), 16000, "WAV"))
     and d / "c.wav", "ez ji te hez dikim", "clipped: "),
    (lambda d: (d / "q.wav").write_bytes(encode(0.01 * speech_like(2.0, 16000, 9), 16000, "WAV")) and d / "q.wav",
     "ez ji te hez dikim", "too quiet: "),
    (lambda d: recording(d, "slow.wav", 10), "ez", "too slow: 2 letters in 2.0 s"),
    (lambda d: recording(d, "fast.wav", 11, seconds=1.2), "ez ji te hez dikim " * 4, "too fast: 56 letters"),
    (lambda d: recording(d, "p.wav", 7), "?! …", "nothing the model can say"),
])
def test_rejections_store_nothing(workspace, tmp_path, capsys, make, text, message):
    path = make(tmp_path)
    assert feedback(workspace, "--add_sample", path, text) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert pending(workspace) == []


def test_intake_for_a_model_from_a_config_reads_the_vocabulary_as_training_does(workspace, tmp_path, capsys):
    """--init_config's "vocabulary" decides what intake accepts by the same rule that training reads it with."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"vocabulary": "klingon"}), encoding="utf-8")
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 1), "ez hatim", "--init_config", config) == 1
    err = capsys.readouterr().err.strip()
    assert "vocabulary 'klingon' is unknown" in err and len(err.splitlines()) == 1
    assert pending(workspace) == []
    config.write_text(json.dumps({"vocabulary": "mms"}), encoding="utf-8")
    assert feedback(workspace, "--add_sample", recording(tmp_path, "b.wav", 2), "ez hatim", "--init_config", config) == 0
    assert len(pending(workspace)) == 1


def run_script(workspace: Path, *argv, **kwargs) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "train_feedback.py"), *folders(workspace, argv)]
    return subprocess.Popen(command, cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for_training(workspace: Path, process: subprocess.Popen) -> None:
    """Until the round has taken its snapshot and started training (its TensorBoard log appears)."""
    logs = workspace / "models" / "kurdish-runs"
    before = set(logs.glob("events.*"))
    deadline = time.monotonic() + 180
    while not (set(logs.glob("events.*")) - before and list((workspace / "training").glob(".feedback-round-*"))):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)


def test_killed_round_keeps_pending_and_rerun_archives_once(workspace, tmp_path):
    for i in range(2):
        assert feedback(workspace, "--add_sample", recording(tmp_path, f"k{i}.wav", 20 + i), f"dengê {i + 1}") == 0
    model_before = weights_of(workspace / "models" / "kurdish")
    process = run_script(workspace, *round_args("--archive_feedback")[2:], "--max_steps", 10_000)
    wait_for_training(workspace, process)
    time.sleep(1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(pending(workspace)) == 2 and archived(workspace) == []
    model_after = weights_of(workspace / "models" / "kurdish")
    assert all(torch.equal(model_before[k], model_after[k]) for k in model_before)
    assert feedback(workspace, *round_args("--archive_feedback")) == 0
    assert pending(workspace) == [] and sorted(e["text"] for e in archived(workspace)) == ["dengê du", "dengê yek"]
    assert not list((workspace / "training").glob(".feedback-round-*"))


def test_clips_added_during_a_round_stay_pending(workspace, tmp_path):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "before.wav", 30), "roja berê") == 0
    process = run_script(workspace, *round_args("--archive_feedback")[2:], "--max_steps", 20)
    wait_for_training(workspace, process)
    assert feedback(workspace, "--add_sample", recording(tmp_path, "during.wav", 31), "di navbera de") == 0
    _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-800:]
    assert [e["text"] for e in pending(workspace)] == ["di navbera de"]
    assert [e["text"] for e in archived(workspace)] == ["roja berê"]


def test_two_intakes_at_the_same_moment_keep_both(workspace, tmp_path):
    paths = [recording(tmp_path, f"c{i}.wav", 40 + i) for i in range(3)]
    store = FeedbackStore(workspace / "training")
    with store.locked():  # held here: the intakes must wait for it, then go one at a time
        processes = [run_script(workspace, "--add_sample", path, f"deng {i}") for i, path in enumerate(paths)]
        time.sleep(8)  # long enough for the three to start up and reach the lock
        assert all(process.poll() is None for process in processes) and pending(workspace) == []
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert sorted(e["original_text"] for e in pending(workspace)) == ["deng 0", "deng 1", "deng 2"]
    wavs = workspace / "training" / "feedback" / "pending" / "wavs"
    assert sorted(p.name for p in wavs.iterdir()) == sorted(e["file"] for e in pending(workspace))


def test_feedback_only_trains_on_feedback_alone_and_note_is_kept(workspace, tmp_path, monkeypatch):
    batch = tmp_path / "batch.csv"
    recording(tmp_path, "b.wav", 60)
    batch.write_text("audio,text,id,note\nb.wav,du heb hene,n2,\n", encoding="utf-8")
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 61), "yek heye", "--note", "stress on yek") == 0
    assert feedback(workspace, "--add_batch", batch, "--note", "from the batch") == 0
    assert [e["note"] for e in pending(workspace)] == ["stress on yek", "from the batch"]
    engine_saw = []
    real_train = train_feedback.train

    def recording_train(args, clips, eval_clips, weights, **kwargs):
        engine_saw.append(([c.file for c in clips], weights, (args.data_dir / "metadata.csv").read_text()))
        return real_train(args, clips, eval_clips, weights, **kwargs)

    monkeypatch.setattr(train_feedback, "train", recording_train)
    assert feedback(workspace, *round_args("--feedback_only", "--feedback_weight", 3, "--archive_feedback")) == 0
    [(files, weights, staged)] = engine_saw
    feedback_files = [f"feedback_{e['file']}" for e in archived(workspace)]
    assert sorted(files) == sorted(feedback_files) and weights == [3.0, 3.0]
    assert sorted(line.split("|")[0] for line in staged.splitlines()) == sorted(feedback_files)
    assert [e["note"] for e in archived(workspace)] == ["stress on yek", "from the batch"]
    info = json.loads(next((workspace / "training" / "feedback" / "archive").glob("2*/round.json")).read_text())
    assert info["feedback_only"] is True and info["feedback_weight"] == 3.0


def test_snapshot_takes_text_and_audio_together(workspace, tmp_path, monkeypatch):
    """An intake that replaces an entry just after the round took its snapshot changes nothing in the round."""
    recording(tmp_path, "old.wav", 50)
    recording(tmp_path, "new.wav", 51)

    def replace(audio: str, text: str) -> None:
        (tmp_path / "b.jsonl").write_text(json.dumps({"audio": audio, "text": text, "id": "x"}) + "\n")
        assert feedback(workspace, "--add_batch", tmp_path / "b.jsonl") == 0

    replace("old.wav", "ez im, tu yî")
    pending_wavs = workspace / "training" / "feedback" / "pending" / "wavs"
    [old] = pending(workspace)
    old_wav = (pending_wavs / old["file"]).read_bytes()
    seen = {}
    real_locked = FeedbackStore.locked

    @contextlib.contextmanager
    def locked_then_replaced(store):
        with real_locked(store):
            yield
        if not seen:  # the first lock the round releases: the snapshot's
            seen["replaced"] = True
            replace("new.wav", "tu yî, ne ez")

    def stopping_train(args, clips, eval_clips, weights, **kwargs):
        seen["text"] = {c.file: c.text for c in clips}[f"feedback_{old['file']}"]
        seen["wav"] = (args.data_dir / "wavs" / f"feedback_{old['file']}").read_bytes()
        raise TrainingError("stopped by the test")

    monkeypatch.setattr(FeedbackStore, "locked", locked_then_replaced)
    monkeypatch.setattr(train_feedback, "train", stopping_train)
    assert feedback(workspace, *round_args()) == 1
    assert seen["text"] == "ez im tu yî" and seen["wav"] == old_wav
    [new] = pending(workspace)
    assert new["text"] == "tu yî ne ez" and (pending_wavs / new["file"]).read_bytes() != old_wav


def test_feedback_id_equal_to_a_base_clip_id_overwrites_nothing(workspace, tmp_path, monkeypatch):
    recording(tmp_path, "c2.wav", 52)
    (tmp_path / "b.csv").write_text("audio,text,id\nc2.wav,ez im tu yî,c2\n")
    assert feedback(workspace, "--add_batch", tmp_path / "b.csv") == 0
    base_wav = workspace / "training" / "wavs" / "c2.wav"
    [entry] = pending(workspace)
    feedback_wav = workspace / "training" / "feedback" / "pending" / "wavs" / entry["file"]
    before = base_wav.read_bytes(), feedback_wav.read_bytes()
    seen = {}

    def stopping_train(args, clips, eval_clips, weights, **kwargs):
        seen["staged"] = {c.file: (args.data_dir / "wavs" / c.file).read_bytes() for c in clips}
        raise TrainingError("stopped by the test")

    monkeypatch.setattr(train_feedback, "train", stopping_train)
    assert feedback(workspace, *round_args()) == 1
    assert (seen["staged"]["c2.wav"], seen["staged"][f"feedback_{entry['file']}"]) == before
    assert (base_wav.read_bytes(), feedback_wav.read_bytes()) == before


def test_rerun_restores_a_model_left_aside_by_a_killed_installation(workspace, tmp_path, capsys):
    """A kill between replace_folder's two renames leaves only models/.kurdish.old (and the same for the
    discriminator): the next run puts them back instead of falling back to the hub model."""
    assert feedback(workspace, "--add_sample", recording(tmp_path, "r.wav", 70), "careke dîsa") == 0
    models = workspace / "models"
    model_before = weights_of(models / "kurdish")
    for name in ("kurdish", "kurdish-discriminator"):
        os.replace(models / name, models / f".{name}.old")
    capsys.readouterr()
    assert feedback(workspace, *round_args()) == 0
    out = capsys.readouterr().out
    assert f"restored {models / 'kurdish'}," in out
    assert f"restored {models / 'kurdish-discriminator'}" in out
    assert f"from {models / 'kurdish'}" in out and "(loaded from" in out  # the discriminator too
    assert not (models / ".kurdish.old").exists() and not (models / ".kurdish-discriminator.old").exists()
    [backup] = models.glob("kurdish-2*")
    assert all(torch.equal(model_before[k], weights_of(backup)[k]) for k in model_before)


class Killed(Exception):
    """Stands for a kill at the point where the test raises it."""


def fail_once(monkeypatch, owner, name: str) -> None:
    real = getattr(owner, name)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise Killed(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, failing)


def test_round_killed_between_install_and_archive_is_archived_once_and_not_retrained(workspace, tmp_path,
                                                                                     monkeypatch, capsys):
    for i in range(2):
        assert feedback(workspace, "--add_sample", recording(tmp_path, f"i{i}.wav", 80 + i), f"deng {i}") == 0
    first = [e["id"] for e in pending(workspace)]
    fail_once(monkeypatch, FeedbackStore, "archive_entries")
    with pytest.raises(Killed):
        feedback(workspace, *round_args("--archive_feedback"))
    installed = sha256_of(workspace / "models" / "kurdish" / "model.safetensors")
    assert [e["id"] for e in pending(workspace)] == first and archived(workspace) == []
    assert (workspace / "training" / "feedback" / "round-in-progress.json").is_file()

    assert feedback(workspace, "--add_sample", recording(tmp_path, "later.wav", 82), "roja paşê") == 0
    engine_saw = []
    real_train = train_feedback.train

    def recording_train(args, clips, eval_clips, weights, **kwargs):
        engine_saw.append([c.file for c in clips if c.file.startswith("feedback_")])
        return real_train(args, clips, eval_clips, weights, **kwargs)

    monkeypatch.setattr(train_feedback, "train", recording_train)
    capsys.readouterr()
    assert feedback(workspace, *round_args("--archive_feedback")) == 0
    assert "finished the archive of a round interrupted after installing" in capsys.readouterr().out
    [later] = [e for e in archived(workspace) if e["text"] == "roja paşê"]
    assert engine_saw == [[f"feedback_{later['file']}"]]  # not the clips the killed round trained on
    assert pending(workspace) == [] and sorted(e["id"] for e in archived(workspace)) == sorted(first + [later["id"]])
    rounds = sorted((workspace / "training" / "feedback" / "archive").glob("2*"))
    infos = [json.loads((folder / "round.json").read_text()) for folder in rounds]
    assert [e["id"] for e in json.loads((rounds[0] / "entries.json").read_text())] == first
    assert infos[0]["model_sha256"] == installed and infos[0]["clips"] == 2
    assert infos[1]["previous_model"] and sha256_of(Path(infos[1]["previous_model"]) / "model.safetensors") == installed
    assert not (workspace / "training" / "feedback" / "round-in-progress.json").exists()


def test_round_killed_before_its_model_is_installed_leaves_the_clips_pending(workspace, tmp_path, monkeypatch,
                                                                            capsys):
    for i in range(2):
        assert feedback(workspace, "--add_sample", recording(tmp_path, f"u{i}.wav", 90 + i), f"deng {i}") == 0
    entries = pending(workspace)
    model_before = sha256_of(workspace / "models" / "kurdish" / "model.safetensors")
    fail_once(monkeypatch, installation, "replace_folder")  # the record is written, the swap never happens
    with pytest.raises(Killed):
        feedback(workspace, *round_args("--archive_feedback"))
    record = workspace / "training" / "feedback" / "round-in-progress.json"
    assert record.is_file()
    assert json.loads(record.read_text())["info"]["model_sha256"] != model_before
    capsys.readouterr()
    assert feedback(workspace, "--list") == 0
    out = capsys.readouterr().out
    assert "interrupted before its model was installed, or that model is no longer" in out
    assert "its 2 clips stay pending" in out and "pending: 2 clips" in out
    assert not record.exists() and pending(workspace) == entries and archived(workspace) == []
    assert sha256_of(workspace / "models" / "kurdish" / "model.safetensors") == model_before


def test_kill_between_the_model_swap_and_the_discriminator_swap_is_finished_next_run(workspace, tmp_path,
                                                                                      monkeypatch, capsys):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "d.wav", 95), "dengê nû") == 0
    models = workspace / "models"
    real, calls = installation.replace_folder, []

    def killed_at_the_second_swap(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise Killed("between the swaps")
        return real(source, target)

    monkeypatch.setattr(installation, "replace_folder", killed_at_the_second_swap)
    with pytest.raises(Killed):
        feedback(workspace, *round_args())
    monkeypatch.setattr(installation, "replace_folder", real)
    round_discriminator = models / ".kurdish-round-discriminator"
    assert calls == [models / "kurdish", models / "kurdish-discriminator"] and round_discriminator.is_dir()
    new_discriminator = sha256_of(round_discriminator / "discriminator.safetensors")
    assert sha256_of(models / "kurdish-discriminator" / "discriminator.safetensors") != new_discriminator  # the old one

    capsys.readouterr()
    assert feedback(workspace, "--list") == 0
    assert f"installed {models / 'kurdish-discriminator'}, which an interrupted installation" in capsys.readouterr().out
    assert sha256_of(models / "kurdish-discriminator" / "discriminator.safetensors") == new_discriminator
    assert not round_discriminator.exists()


def test_a_finished_round_leaves_no_checkpoint_for_a_later_resume(workspace, tmp_path, capsys):
    """A later round's --resume must not continue a finished round's training (it would install that
    round's weights as the new round's)."""
    checkpoints = workspace / "fck"
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 97), "ya yekem") == 0
    assert feedback(workspace, *round_args("--save_steps", 1, "--archive_feedback")) == 0
    assert not list(checkpoints.glob("checkpoint-*"))
    assert feedback(workspace, "--add_sample", recording(tmp_path, "b.wav", 98), "ya duyem") == 0
    capsys.readouterr()
    assert feedback(workspace, *round_args("--resume")) == 1
    assert "--resume: no checkpoint in" in capsys.readouterr().err
    assert [e["text"] for e in pending(workspace)] == ["ya duyem"]


def test_backups_made_within_the_same_second_are_both_kept(tmp_path):
    current = tmp_path / "models" / "kurdish"
    current.mkdir(parents=True)
    backups = []
    for version in ("first", "second"):
        (current / "config.json").write_text(version)
        backups.append(installation.keep_backup(current, "20261125T000000Z"))
    assert backups[0] != backups[1]
    assert [(b / "config.json").read_text() for b in backups] == ["first", "second"]


def test_a_folder_replacement_killed_halfway_is_restored(tmp_path, monkeypatch):
    from kurdish_tts import files

    current, new = tmp_path / "kurdish", tmp_path / "new"
    for folder, text in ((current, "old"), (new, "new")):
        folder.mkdir()
        (folder / "config.json").write_text(text)
    renames = []

    def killed_at_the_second_rename(source, target):
        renames.append(target)
        if len(renames) == 2:
            raise KeyboardInterrupt
        os.rename(source, target)

    monkeypatch.setattr(files.os, "replace", killed_at_the_second_rename)
    with pytest.raises(KeyboardInterrupt):
        files.replace_folder(new, current)
    monkeypatch.undo()
    assert not current.exists()
    assert files.restore_replaced_folder(current) and (current / "config.json").read_text() == "old"
    assert not files.restore_replaced_folder(current)  # nothing left to restore


def interrupt_after_first_step(monkeypatch) -> None:
    """SIGTERM once the round's first optimiser step is done: the training loop saves a checkpoint and stops."""
    from kurdish_tts.training import loop

    real = loop.after_step

    def then_stop(run, metrics, bar):
        real(run, metrics, bar)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(loop, "after_step", then_stop)


def test_a_resumed_round_trains_on_the_clips_it_staged_not_on_what_came_since(workspace, tmp_path, capsys, monkeypatch):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 61), "ya berê") == 0
    with monkeypatch.context() as patch:
        interrupt_after_first_step(patch)
        assert feedback(workspace, *round_args("--archive_feedback")) == 130
    assert feedback(workspace, "--add_sample", recording(tmp_path, "b.wav", 62), "ya paşê") == 0
    capsys.readouterr()
    assert feedback(workspace, *round_args("--archive_feedback", "--resume")) == 0
    out = capsys.readouterr().out
    assert "round: 1 feedback clips" in out and "trained 1 steps" in out
    assert [e["text"] for e in archived(workspace)] == ["ya berê"] and [e["text"] for e in pending(workspace)] == ["ya paşê"]


def test_a_resumed_round_whose_clip_was_replaced_is_refused(workspace, tmp_path, capsys, monkeypatch):
    recording(tmp_path, "a.wav", 63)
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"audio": "a.wav", "text": "ya berê", "id": "c1"}) + "\n")
    assert feedback(workspace, "--add_batch", batch) == 0
    with monkeypatch.context() as patch:
        interrupt_after_first_step(patch)
        assert feedback(workspace, *round_args()) == 130
    batch.write_text(json.dumps({"audio": "a.wav", "text": "ya rast", "id": "c1"}) + "\n")  # the text corrected
    assert feedback(workspace, "--add_batch", batch) == 0
    capsys.readouterr()
    assert feedback(workspace, *round_args("--resume")) == 1
    err = capsys.readouterr().err.strip()
    assert "the interrupted round trained on 1 clip(s) that are no longer pending as they were (c1)" in err
    assert len(err.splitlines()) == 1
    assert [e["text"] for e in pending(workspace)] == ["ya rast"]


@pytest.fixture
def standin_workspace(base, tmp_path) -> Path:
    """The workspace with the stand-in voice (data/pretrained/) as the current model."""
    root = tmp_path / "s"
    shutil.copytree(base / "training", root / "training")
    pretrained = ROOT / "data" / "pretrained"
    shutil.copytree(pretrained / "model", root / "models" / "kurdish")
    shutil.copytree(pretrained / "discriminator", root / "models" / "kurdish-discriminator")
    return root


def gate_round(*extra) -> list[str]:
    return ["--max_steps", 3, "--batch_size", 2, "--gradient_accumulation_steps", 1, "--eval_steps", 1000, *extra]


def test_a_round_that_wrecks_the_voice_is_not_installed_unless_forced_and_rollback_undoes_it(standin_workspace, tmp_path,
                                                                                             capsys):
    workspace, models = standin_workspace, standin_workspace / "models"
    before = sha256_of(models / "kurdish" / "model.safetensors")
    assert feedback(workspace, "--add_sample", recording(tmp_path, "w.wav", 71), "ez ji te hez dikim") == 0
    capsys.readouterr()
    wreck = gate_round("--keep_prior", "yes", "--acoustic_learning_rate", 1e-1, "--archive_feedback")  # the sound, not its length
    assert feedback(workspace, *wreck) == 1
    out, err = capsys.readouterr()
    assert "install check on 2 held-out clips" in out and "the round's model was not installed" in err
    assert sha256_of(models / "kurdish" / "model.safetensors") == before and len(pending(workspace)) == 1
    rejected = json.loads((models / "kurdish-rejected" / "round.json").read_text())["scores"]
    before_scores, after_scores = rejected["before"], rejected["after"]
    assert rejected["worse"] and (after_scores["cer"] > before_scores["cer"] + 0.05
                                  or after_scores["mcd_dtw"] > before_scores["mcd_dtw"] + 0.5)
    assert not list(models.glob(".kurdish-round*"))

    assert feedback(workspace, *wreck, "--force_install") == 0
    installed = json.loads((models / "kurdish" / "round.json").read_text())
    assert installed["scores"]["worse"] and Path(installed["previous_model"]).is_dir()
    assert sha256_of(models / "kurdish" / "model.safetensors") != before and archived(workspace)
    capsys.readouterr()
    assert feedback(workspace, "--rollback") == 0
    assert "rolled back" in capsys.readouterr().out
    assert sha256_of(models / "kurdish" / "model.safetensors") == before
    wrecked = [p for p in models.glob("kurdish-2*") if (p / "round.json").is_file()]
    assert len(wrecked) == 1  # the model rolled back is kept
    assert feedback(workspace, "--rollback") == 1  # the stand-in itself replaced nothing
    assert "nothing to roll back" in capsys.readouterr().err
    (models / "kurdish" / "round.json").write_text(json.dumps({"previous_model": ""}))  # a round that replaced none
    assert feedback(workspace, "--rollback") == 1 and "nothing to roll back" in capsys.readouterr().err
    (models / "kurdish" / "round.json").write_text("{")
    assert feedback(workspace, "--rollback") == 1
    err = capsys.readouterr().err.strip()
    assert "round.json is damaged" in err and len(err.splitlines()) == 1
    assert sha256_of(models / "kurdish" / "model.safetensors") == before


def test_a_gentle_round_passes_the_install_check(standin_workspace, tmp_path, capsys):
    workspace = standin_workspace
    assert feedback(workspace, "--add_sample", recording(tmp_path, "g.wav", 72), "ez ji te hez dikim") == 0
    capsys.readouterr()
    assert feedback(workspace, *gate_round("--learning_rate", 1e-7, "--max_steps", 1)) == 0
    scores = json.loads((workspace / "models" / "kurdish" / "round.json").read_text())["scores"]
    assert scores["worse"] == [] and abs(scores["after"]["cer"] - scores["before"]["cer"]) <= 0.05
    assert scores["asr_model"].endswith("judge") and scores["margins"]["cer"] == 0.05
    assert 1.0 <= scores["before"]["dnsmos_ovrl"] <= 5.0 and 1.0 <= scores["after"]["dnsmos_ovrl"] <= 5.0


def test_the_install_check_refuses_a_voice_that_sounds_less_natural_and_only_beyond_its_margin():
    from kurdish_tts.feedback.installation import MARGINS, regressions

    before = {"mcd_dtw": 7.0, "loudness_ratio": 1.0, "cer": 0.2, "dnsmos_ovrl": 2.6}
    worse = regressions(before, {**before, "dnsmos_ovrl": 2.6 - MARGINS["dnsmos_ovrl"] - 0.05})
    assert len(worse) == 1 and "DNSMOS OVRL 2.30 against 2.60" in worse[0]
    assert regressions(before, {**before, "dnsmos_ovrl": 2.6 - MARGINS["dnsmos_ovrl"] + 0.05}) == []
    assert regressions(before, {**before, "dnsmos_ovrl": 3.4}) == []  # more natural is never a regression
    without = {k: v for k, v in before.items() if k != "dnsmos_ovrl"}
    assert regressions(without, {**without}) == []  # clips too short for DNSMOS: judged on the rest
    assert len(regressions(without, {**without, "cer": 0.3})) == 1


@pytest.mark.parametrize("argv, message", [
    (["--add_sample", "a.wav", "ez", "--max_steps", "5"], "--max_steps does not combine with --add_sample"),
    (["--add_batch", "b.csv", "--archive_feedback", "--freeze", "decoder"],
     "--archive_feedback, --freeze do not combine with --add_batch"),
    (["--list", "--feedback_weight", "3"], "--feedback_weight does not combine with --list"),
    (["--rollback", "--donor", "amed"], "--donor does not combine with --rollback"),
    (["--max_steps", "2", "--note", "x"], "--note does not combine with a training round"),
])
def test_flags_that_do_not_apply_to_the_mode_are_refused(workspace, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        feedback(workspace, *argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert pending(workspace) == []


def test_a_damaged_store_record_is_a_one_line_error_and_changes_nothing(workspace, tmp_path, capsys):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 81), "ez hatim") == 0
    entries = workspace / "training" / "feedback" / "pending" / "entries.json"
    for damage in ("[{", '[{"nothing": 1}]'):
        entries.write_text(damage)
        capsys.readouterr()
        for argv in (["--add_sample", recording(tmp_path, "b.wav", 82), "ez çûm malê"], ["--list"]):
            assert feedback(workspace, *argv) == 1
            err = capsys.readouterr().err.strip()
            assert "entries.json is damaged" in err and len(err.splitlines()) == 1, err
        assert entries.read_text() == damage


def test_pending_metadata_that_disagrees_with_the_entries_is_mended(workspace, tmp_path):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 83), "ez hatim") == 0
    metadata = workspace / "training" / "feedback" / "pending" / "metadata.csv"
    listed = metadata.read_text()
    metadata.write_text("")  # a kill between the two writes of an intake
    assert feedback(workspace, *round_args()) == 0  # its snapshot, under the store's lock, mends it
    assert metadata.read_text() == listed and len(pending(workspace)) == 1


def test_a_round_whose_output_is_the_data_folder_is_refused_and_the_feedback_kept(workspace, tmp_path, capsys):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 85), "ez hatim") == 0
    model = workspace / "models" / "kurdish"
    assert feedback(workspace, *round_args("--model_name_or_path", model, "--output_dir", workspace / "training")) == 1
    assert "--output_dir: " in capsys.readouterr().err and model.is_dir() and len(pending(workspace)) == 1


def test_a_recogniser_that_cannot_judge_is_refused_before_the_round_trains(workspace, tmp_path, capsys):
    assert feedback(workspace, "--add_sample", recording(tmp_path, "a.wav", 84), "ez hatim") == 0
    model = workspace / "models" / "kurdish"  # a text-to-speech model: it has a config.json, but cannot listen
    assert feedback(workspace, *[a if a != "none" else model for a in round_args()]) == 1
    out, err = capsys.readouterr()
    assert "is not a speech-recognition model" in err and "learning rates:" not in out  # refused before training
    assert not list((workspace / "fck").glob("checkpoint-*")) and len(pending(workspace)) == 1
