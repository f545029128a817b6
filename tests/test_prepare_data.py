"""prepare_data.py driven through main(argv) on generated Common Voice data in every input layout."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from helpers import ROOT, drowned, read_metadata_lines
from PIL import Image

import prepare_data
from kurdish_tts.corpus import audio
from kurdish_tts.files import UMASK
from kurdish_tts.samples.commonvoice import default_rows, hub_table, write_release
from kurdish_tts.samples.signals import encode, speech_like
from kurdish_tts.text.vocabulary import BUILTIN_VOCAB

FAST = ["--num_workers", "1", "--model_name_or_path", "facebook/mms-tts-kmr-script_latin"]


def run(dataset, out, *extra) -> int:
    return prepare_data.main(["--dataset", str(dataset), "--output_dir", str(out), *FAST, *map(str, extra)])


def listed(out: Path) -> list[tuple[str, str]]:
    return read_metadata_lines(out / "metadata.csv") + read_metadata_lines(out / "metadata_eval.csv")


def report(out: Path) -> dict:
    return json.loads((out / "dataset.json").read_text(encoding="utf-8"))


def error_line(capsys) -> str:
    """The run's error, which must be one line (stderr holds notices and the progress bar too)."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def test_release_folder_makes_the_contract(release, tmp_path, capsys):
    out = tmp_path / "training"
    assert run(release.parent.parent, out, "--eval_size", 2) == 0  # the cv-corpus-* parent is found too
    train, held = read_metadata_lines(out / "metadata.csv"), read_metadata_lines(out / "metadata_eval.csv")
    assert len(train) == 6 and len(held) == 2
    assert not {f for f, _ in train} & {f for f, _ in held}
    for file, text in train + held:
        info = sf.info(str(out / "wavs" / file))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert text and "|" not in text and text == text.lower()
        assert not any(ch.isdigit() for ch in text)
    assert report(out)["text_normalizer"] == 2  # the normaliser's version, for the stages after
    texts = {text for _, text in train + held}
    assert "ez bîst û pênc salî me" in texts
    data = report(out)
    assert data["counts"]["kept"] == 8 and data["sample_rate"] == 16000
    assert data["speakers"]["count"] == 2 and data["hours_after"] < data["hours_before"]
    with Image.open(out / "stats.png") as picture:
        assert picture.format == "PNG" and picture.size == (1041, 290)
        colours = {colour for _, colour in picture.convert("RGB").getcolors(maxcolors=100_000)}
    assert {(31, 119, 180), (44, 160, 44), (255, 127, 14)} <= colours  # the bars of all three panels
    readable = 0o666 & ~UMASK  # files made as the user's umask says, not only-the-owner as mkstemp makes them
    assert all(os.stat(path).st_mode & 0o777 == readable for path in [out / "metadata.csv", out / "stats.png", *(out / "wavs").iterdir()])
    assert data["removed_characters"] == {".": 4, "?": 2, "!": 1, ":": 1, ",": 1}
    assert "removed: '.' x4, '?' x2, '!' x1, ':' x1, ',' x1" in capsys.readouterr().out


@pytest.mark.parametrize("top_db", [20, 40, 60])
def test_trim_cuts_where_librosa_does(top_db):
    rng = np.random.default_rng(top_db)
    for seed in range(40):
        clip = speech_like(rng.uniform(0.1, 4), 16000, seed=seed, pad=rng.uniform(0, 1))[rng.integers(0, 300):]
        expected, _ = librosa.effects.trim(clip, top_db=top_db, frame_length=1024, hop_length=256)
        trimmed = audio.trim_silence(clip, top_db)
        assert trimmed.size == expected.size and np.shares_memory(trimmed, clip)
        assert trimmed.size == 0 or trimmed[0] == expected[0]
    assert audio.trim_silence(np.zeros(1000, np.float32), 40).size == 1000  # nothing louder than anything else


def test_trim_above_the_noise_floor_cuts_a_recordings_room_noise_and_leaves_a_clean_clip():
    rate, rng = 16000, np.random.default_rng(0)
    voice = speech_like(2.0, rate, pad=0.0)
    room = lambda seconds: 0.3 * 10 ** (-25 / 20) * rng.standard_normal(int(seconds * rate)).astype(np.float32)
    recorded = np.concatenate([room(1.2), voice + room(2.0), room(0.9)])  # noise 25 dB under the voice throughout
    assert audio.trim_silence(recorded, 40).size == recorded.size  # the peak rule keeps the room noise
    trimmed = audio.trim_silence(recorded, 40, 10)
    margin = audio.TRIM_FLOOR_MARGIN * audio.TRIM_HOP
    assert 2.0 * rate <= trimmed.size <= 2.0 * rate + 2 * margin + 1024  # the voice, 0.1 s either side
    start = (trimmed.ctypes.data - recorded.ctypes.data) // recorded.itemsize  # a view of the clip
    assert 1.2 * rate - margin - 1024 <= start <= 1.2 * rate  # cut where the voice begins, less the margin
    clean = speech_like(2.0, rate, pad=0.5)  # edges 55 dB under the voice: the peak rule decides
    assert audio.trim_silence(clean, 40, 10).size == audio.trim_silence(clean, 40).size


def test_wav_samples_are_rounded_and_clipped_not_wrapped():
    samples = np.array([0.0, 0.5, -0.5, 1 / 32767 * 0.6, 1.0, -1.0, 1.7, -1.7], dtype=np.float32)
    written, rate = sf.read(io.BytesIO(audio.encode_wav(samples, 16000)), dtype="int16")
    assert rate == 16000
    assert written.tolist() == [0, 16384, -16384, 1, 32767, -32767, 32767, -32768]


def test_trim_resample_and_peak_loudness(tmp_path):
    stereo = np.stack([speech_like(1.5, 48000, pad=0.6), speech_like(1.5, 48000, pad=0.6)], axis=1) * 0.2
    rows = [dict(default_rows(1)[0], audio=encode(stereo, 48000, "WAV"))]
    out = tmp_path / "out"
    assert run(write_release(tmp_path / "cv", rows), out, "--eval_size", 0) == 0
    (file, _), = read_metadata_lines(out / "metadata.csv")
    audio, rate = sf.read(str(out / "wavs" / file))
    assert rate == 16000 and audio.ndim == 1
    assert 1.4 < len(audio) / rate < 1.9  # about 1.2 s of leading/trailing noise trimmed
    assert abs(np.abs(audio).max() - 10 ** (-1 / 20)) < 0.01


@pytest.mark.parametrize("mode", ["rms", "none"])
def test_other_loudness_modes(tmp_path, mode):
    out = tmp_path / "out"
    rows = [dict(default_rows(1)[0], audio=encode(speech_like(1.5) * 0.5, 16000, "WAV"))]
    assert run(write_release(tmp_path / "cv", rows), out, "--eval_size", 0, "--normalize", mode) == 0
    audio, _ = sf.read(str(next((out / "wavs").glob("*.wav"))))
    if mode == "rms":
        assert abs(20 * np.log10(np.sqrt(np.mean(audio ** 2))) + 20) < 0.5
    else:
        assert abs(np.abs(audio).max() - np.abs(speech_like(1.5) * 0.5).max()) < 0.01


def test_bad_clips_are_counted_and_skipped(tmp_path, capsys):
    rows = default_rows(4) + [
        dict(default_rows(1)[0], audio=b"this is not audio at all" * 50),
        dict(default_rows(1)[0], audio=b""),
        dict(default_rows(1)[0], audio=encode(np.zeros(32000, np.float32), 16000, "WAV")),
        dict(default_rows(1)[0], missing=True),
        dict(default_rows(1)[0], sentence=""),
        dict(default_rows(1)[0], sentence="?!… 😀"),
        dict(default_rows(1)[0], path="../../outside.mp3"),
        dict(default_rows(1)[0], path="/etc/passwd"),
        dict(default_rows(1)[0], seconds=0.4),
        dict(default_rows(1)[0], seconds=16.5),
        dict(default_rows(1)[0], up_votes=1),
        dict(default_rows(1)[0], down_votes=1),
        dict(default_rows(1)[0], up_votes=0),
        dict(default_rows(1)[0], down_votes=3),
        dict(default_rows(1)[0], seconds=70.0),  # refused from its header, before it is decoded
    ]
    out = tmp_path / "out"
    assert run(write_release(tmp_path / "cv" / "kmr", rows), out) == 0
    dropped = report(out)["counts"]["dropped"]
    assert dropped == {"undecodable audio": 1, "empty file": 1, "silent": 1, "missing clip file": 1, "empty text": 1,
                       "nothing sayable in text": 1, "unsafe path": 2, "too short": 1, "too long": 2, "vote filter": 4}
    assert any(e.startswith("common_voice_kmr_18.mp3 (") and e.endswith(" s as recorded (at most 60))")
               for e in report(out)["dropped_examples"]["too long"])
    assert len(listed(out)) == 4
    assert not (tmp_path / "outside.mp3").exists()
    summary = capsys.readouterr().out.splitlines()
    assert summary[1].startswith("kept 4 of 19: 4 vote filter, ")
    # the first few dropped clips are named under their reason, with "..." when there are more
    assert "  vote filter: common_voice_kmr_14.mp3, common_voice_kmr_15.mp3, common_voice_kmr_16.mp3 ..." in summary
    assert "  unsafe path: ../../outside.mp3, /etc/passwd" in summary
    assert any(line.startswith("  too long: common_voice_kmr_13.mp3 (16.") for line in summary)
    assert any(line.startswith("  undecodable audio: common_voice_kmr_4.mp3 (") and "regular file" not in line
               for line in summary)  # libsndfile's real reason, not its "does not exist" for any file it cannot open


def test_unusable_audio_files_are_counted_and_skipped(tmp_path):
    with_nan, with_inf = speech_like(1.5), speech_like(1.5)
    with_nan[100], with_inf[200] = np.nan, -np.inf
    rows = default_rows(2) + [
        dict(default_rows(1)[0], audio=encode(np.zeros(0, np.float32), 16000, "WAV")),  # a header, no samples
        dict(default_rows(1)[0], audio=encode(with_nan, 16000, "WAV", "FLOAT")),
        dict(default_rows(1)[0], audio=encode(with_inf, 16000, "WAV", "FLOAT")),
        dict(default_rows(1)[0], missing=True),
    ]
    release = write_release(tmp_path / "cv", rows)
    (release / "clips" / "common_voice_kmr_5.mp3").mkdir()  # a folder where the clip should be
    out = tmp_path / "out"
    assert run(release, out, "--eval_size", 0) == 0
    data = report(out)
    assert data["counts"]["dropped"] == {"zero-length audio": 1, "non-finite samples": 2, "unreadable file": 1}
    assert data["dropped_examples"]["unreadable file"] == ["common_voice_kmr_5.mp3 (Is a directory)"]
    assert len(listed(out)) == 2


def test_file_without_read_permission_is_counted(tmp_path):
    release = write_release(tmp_path / "cv", default_rows(3))
    clip = release / "clips" / "common_voice_kmr_2.mp3"
    clip.chmod(0)
    if os.access(clip, os.R_OK):
        pytest.skip("this user reads files whatever their permissions (root)")
    out = tmp_path / "out"
    assert run(release, out, "--eval_size", 0) == 0
    assert report(out)["dropped_examples"] == {"unreadable file": ["common_voice_kmr_2.mp3 (Permission denied)"]}


def test_rows_without_vote_columns_pass_the_vote_filter(tmp_path):
    hub_table(default_rows(3)).remove_columns(["up_votes", "down_votes"]).to_parquet(str(tmp_path / "d.parquet"))
    assert run(tmp_path / "d.parquet", tmp_path / "a", "--min_upvotes", 5, "--eval_size", 0) == 0
    assert report(tmp_path / "a")["counts"]["kept"] == 3
    release = write_release(tmp_path / "cv", default_rows(3))  # a release without vote columns: read by name
    with (release / "validated.tsv").open(encoding="utf-8") as handle:
        table = [line.rstrip("\n").split("\t") for line in handle]
    keep = [table[0].index(name) for name in ("path", "sentence", "client_id")]
    (release / "validated.tsv").write_text("".join("\t".join(r[i] for i in keep) + "\n" for r in table), encoding="utf-8")
    assert run(release, tmp_path / "b", "--min_upvotes", 5, "--eval_size", 0) == 0
    assert report(tmp_path / "b")["counts"]["kept"] == 3


def test_vote_and_duration_flags(tmp_path):
    rows = [dict(r, up_votes=i % 3, seconds=1.2 + 0.5 * i) for i, r in enumerate(default_rows(6))]
    out = tmp_path / "out"
    assert run(write_release(tmp_path / "cv", rows), out, "--min_upvotes", 0, "--max_duration", 2.6, "--min_duration", 1.5) == 0
    dropped = report(out)["counts"]["dropped"]
    assert dropped == {"too short": 1, "too long": 3}  # 1.2 s; 2.7, 3.2, 3.7 s


def test_speaker_gender_and_max_samples(release, tmp_path):
    assert run(release, tmp_path / "a", "--client_id", "b" * 64, "--eval_size", 0) == 0
    assert report(tmp_path / "a")["speakers"]["clips"] == {"b" * 64: 3}
    assert run(release, tmp_path / "b", "--top_speakers", 1, "--eval_size", 0) == 0
    assert report(tmp_path / "b")["speakers"]["clips"] == {"a" * 64: 5}
    assert run(release, tmp_path / "c", "--gender", "male", "--eval_size", 0) == 0
    assert report(tmp_path / "c")["counts"]["kept"] == 3
    assert run(release, tmp_path / "d", "--max_samples", 5) == 0
    assert len(listed(tmp_path / "d")) == 5


def test_top_speakers_counts_clips_kept_after_the_duration_filter(tmp_path):
    # a: 4 rows but 3 too short; b: 3 good clips; c: 2 good clips. By rows, a and b would win.
    speakers_and_seconds = [("a", 0.5), ("b", 1.5), ("a", 0.5), ("c", 1.5), ("b", 1.6), ("a", 1.5), ("c", 1.6),
                            ("a", 0.5), ("b", 1.7)]
    rows = [dict(row, client_id=speaker * 8, seconds=seconds, sentence="Rojbaş, tu çawa yî?")
            for row, (speaker, seconds) in zip(default_rows(9), speakers_and_seconds)]
    release = write_release(tmp_path / "cv", rows)
    out = tmp_path / "out"
    assert run(release, out, "--top_speakers", 2, "--eval_size", 0) == 0
    data = report(out)
    assert data["speakers"]["clips"] == {"b" * 8: 3, "c" * 8: 2}
    assert data["counts"]["dropped"] == {"too short": 3, "other speaker": 1}
    assert data["removed_characters"] == {",": 5, "?": 5}  # of the kept clips only
    assert data["dropped_examples"]["other speaker"] == ["common_voice_kmr_5.mp3 (1 kept clips)"]
    assert {p.name for p in (out / "wavs").glob("*.wav")} == {f for f, _ in listed(out)}  # a's clip is gone

    assert run(release, tmp_path / "limited", "--top_speakers", 2, "--max_samples", 4, "--eval_size", 0) == 0
    data = report(tmp_path / "limited")
    assert data["speakers"]["clips"] == {"b" * 8: 2, "c" * 8: 2}  # the first 4 of their clips, in order
    assert data["counts"]["dropped"]["beyond --max_samples"] == 1


def test_rows_without_a_client_id_are_nobody_s_clips_to_count(tmp_path, capsys):
    rows = [dict(row, client_id="" if i < 3 else "b" * 8) for i, row in enumerate(default_rows(6))]
    release = write_release(tmp_path / "cv", rows)
    assert run(release, tmp_path / "out", "--top_speakers", 1, "--eval_size", 0) == 0
    data = report(tmp_path / "out")
    assert data["speakers"]["clips"] == {"b" * 8: 3} and data["counts"]["dropped"] == {"no speaker id": 3}
    assert run(release, tmp_path / "out", "--eval_size", 0) == 0 and report(tmp_path / "out")["counts"]["kept"] == 6
    nobody = write_release(tmp_path / "cv2", [dict(row, client_id="") for row in default_rows(4)])
    assert run(nobody, tmp_path / "none", "--top_speakers", 1) == 1
    assert "client_id column, which these rows lack" in error_line(capsys)


def test_speaking_rate_outlier(tmp_path):
    rows = [dict(r, sentence="Ez ji te hez dikim.") for r in default_rows(8)]
    rows.append(dict(rows[0], sentence="ez ji te hez dikim ez ji te hez"))  # 30 characters in 1.4 s
    out = tmp_path / "out"
    assert run(write_release(tmp_path / "cv", rows), out, "--filter_speaking_rate") == 0
    assert report(out)["counts"]["dropped"] == {"speaking rate outlier": 1}
    assert len(list((out / "wavs").glob("*.wav"))) == len(listed(out)) == 8  # the outlier's wav is removed


def test_parquet_in_hub_layout_with_audio_in_path(tmp_path):
    table = hub_table(default_rows(5), audio_column="path")
    table.to_parquet(str(tmp_path / "train-00000.parquet"))
    out = tmp_path / "out"
    assert run(tmp_path / "train-00000.parquet", out) == 0
    assert report(out)["counts"]["kept"] == 5 and report(out)["source"]["kind"] == "parquet"


def save(table, folder: Path, layout: str) -> Path:
    """`table` as a parquet folder in the hub layout or as a save_to_disk folder."""
    if layout == "parquet":
        folder.mkdir(parents=True)
        table.to_parquet(str(folder / "train-00000-of-00001.parquet"))
    else:
        table.save_to_disk(str(folder))
    return folder


def test_parquet_folder_of_several_files_and_its_splits(tmp_path):
    folder = tmp_path / "test" / "kurmanji"  # a parent folder named like a split must not count as one
    (folder / "data").mkdir(parents=True)
    rows = [dict(r, path=f"clip_{i}.mp3") for i, r in enumerate(default_rows(7))]
    hub_table(rows[:3]).to_parquet(str(folder / "data" / "train-00000-of-00002.parquet"))
    hub_table(rows[3:5]).to_parquet(str(folder / "data" / "train-00001-of-00002.parquet"))
    hub_table(rows[5:]).to_parquet(str(folder / "data" / "test-00000-of-00001.parquet"))
    assert run(folder, tmp_path / "train", "--eval_size", 0) == 0
    assert report(tmp_path / "train")["counts"]["kept"] == 5
    assert run(folder, tmp_path / "test", "--split", "test", "--eval_size", 0) == 0
    assert report(tmp_path / "test")["counts"]["kept"] == 2


@pytest.mark.parametrize("layout", ["parquet", "disk"])
@pytest.mark.parametrize("decode", [False, True])
def test_audio_feature_column_is_read_without_decoding(tmp_path, layout, decode):
    import datasets

    table = hub_table(default_rows(3), audio_column="audio").cast_column("audio", datasets.Audio(decode=decode))
    out = tmp_path / "out"
    assert run(save(table, tmp_path / "data", layout), out, "--eval_size", 0) == 0  # torchcodec is never needed
    assert report(out)["counts"]["kept"] == 3


@pytest.mark.parametrize("layout", ["parquet", "disk"])
def test_paths_inside_audio_structs_are_only_names(tmp_path, layout):
    secret = tmp_path / "secret.mp3"
    secret.write_bytes(encode(speech_like(1.5), 16000))
    paths = ["../../etc/x.mp3", "/etc/passwd", "clips/../../../y.mp3", "x.mp3", str(secret)]
    rows = [dict(r, path=path) for r, path in zip(default_rows(5), paths)]
    rows[-1]["audio"] = None  # a path without bytes is never opened
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "out"
    assert run(save(hub_table(rows, audio_column="audio"), tmp_path / "data", layout), out, "--eval_size", 0) == 0
    data = report(out)
    assert data["counts"]["kept"] == 3
    assert data["dropped_examples"] == {"duplicate clip": ["x.mp3"], "missing audio": ["secret.mp3"]}
    assert sorted(p for p in tmp_path.rglob("*") if out not in p.parents and p != out and "data" not in p.parts) == before
    assert {p.name for p in (out / "wavs").iterdir()} == {f for f, _ in listed(out)}


def test_save_to_disk_folder_and_its_split(tmp_path, capsys):
    import datasets

    datasets.DatasetDict({"train": hub_table(default_rows(4), audio_column="audio")}).save_to_disk(str(tmp_path / "disk"))
    out = tmp_path / "out"
    assert run(tmp_path / "disk", out) == 0
    assert report(out)["counts"]["kept"] == 4
    assert run(tmp_path / "disk", out, "--split", "test") == 1
    assert "choose --split from train" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_is_a_one_line_error(tmp_path, capsys):
    import datasets

    datasets.DatasetDict({"train": hub_table(default_rows(2), audio_column="audio")}).save_to_disk(str(tmp_path / "disk"))
    (tmp_path / "file").write_text("not a folder")
    assert run(tmp_path / "disk", tmp_path / "file" / "out") == 1
    assert "Not a directory" in error_line(capsys) and (tmp_path / "file").read_text() == "not a folder"


def test_release_split_tsv(tmp_path, capsys):
    release = write_release(tmp_path / "cv", default_rows(6))
    lines = (release / "validated.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    (release / "train.tsv").write_text("".join(lines[:3]), encoding="utf-8")  # the header and two rows
    for split in ("train.tsv", "train"):  # the .tsv may be left out
        out = tmp_path / split
        assert run(release, out, "--split", split, "--eval_size", 0) == 0
        assert report(out)["counts"]["kept"] == 2 and report(out)["source"]["description"].endswith("(train.tsv)")
    capsys.readouterr()
    for split in ("dev.tsv", "dev", "../cv/validated.tsv"):
        assert run(release, tmp_path / "none", "--split", split) == 1
        assert error_line(capsys).endswith("choose --split from the .tsv files there (train.tsv, validated.tsv)")


def test_vocabulary_notice_offline_and_a_local_model_vocabulary(release, tmp_path, capsys):
    assert run(release, tmp_path / "a") == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if "notice" in line]
    assert notices == [("notice: the model hub is unreachable; using the built-in Kurmanji vocabulary "
                        "instead of facebook/mms-tts-kmr-script_latin's")]
    assert report(tmp_path / "a")["vocabulary"]["source"] == "built-in"

    model = tmp_path / "model"
    model.mkdir()
    (model / "vocab.json").write_text(json.dumps({c: i for c, i in BUILTIN_VOCAB.items() if c != "x"}), encoding="utf-8")
    assert run(release, tmp_path / "b", "--model_name_or_path", model) == 0
    assert "notice" not in capsys.readouterr().err
    data = report(tmp_path / "b")
    assert data["vocabulary"]["source"] == str(model) and data["removed_characters"]["x"] == 3  # şêx, xweş, xal
    assert not any("x" in text for _, text in listed(tmp_path / "b"))
    assert run(release, tmp_path / "c", "--model_name_or_path", tmp_path / "a") == 1  # a folder without vocab.json
    assert "has no vocab.json" in capsys.readouterr().err
    (model / "vocab.json").write_text('{"a": 1,', encoding="utf-8")  # cut short
    assert run(release, tmp_path / "d", "--model_name_or_path", model) == 1
    assert f"{model / 'vocab.json'} is damaged" in error_line(capsys)


def test_a_table_with_a_byte_order_mark_is_read_and_one_not_in_utf8_is_a_one_line_error(tmp_path, capsys):
    release = write_release(tmp_path / "cv", default_rows(6))
    table = release / "validated.tsv"
    text = table.read_text(encoding="utf-8")
    table.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # a spreadsheet's "CSV UTF-8"
    assert run(release, tmp_path / "bom", "--top_speakers", 1) == 0  # the client_id column found under its mark
    assert report(tmp_path / "bom")["speakers"]["count"] == 1
    table.write_bytes(text.encode("cp1252", errors="replace"))  # "Îro", "salî": bytes that are not UTF-8
    capsys.readouterr()
    assert run(release, tmp_path / "cp1252") == 1
    assert f"{table} is not UTF-8 text" in error_line(capsys)


def test_an_mms_vocabulary_keeps_the_letter_that_shares_id_0_with_the_blank(release, tmp_path):
    """Meta's Kurmanji vocabulary puts the letter n at id 0 (its pad token): n is said, not removed."""
    letters = [c for c in BUILTIN_VOCAB if c != "_"]
    model = tmp_path / "mms"
    model.mkdir()
    vocab = {c: i for i, c in enumerate(["n"] + [c for c in letters if c != "n"])}
    (model / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    assert run(release, tmp_path / "out", "--model_name_or_path", model) == 0
    texts = [text for _, text in listed(tmp_path / "out")]
    assert "ez bîst û pênc salî me" in texts and "em ê sibê biçin amedê" in texts
    assert "n" not in report(tmp_path / "out")["removed_characters"]


def test_missing_column_lists_the_columns(tmp_path, capsys):
    hub_table(default_rows(2)).to_parquet(str(tmp_path / "d.parquet"))
    assert run(tmp_path / "d.parquet", tmp_path / "out", "--text_column", "transcript") == 1
    assert "client_id, path, sentence" in capsys.readouterr().err


@pytest.mark.parametrize("dataset, message", [
    ("no/such/folder", "not found"),
    ("amedcj/kurmanji-commonvoice", "pass a local folder"),
    ("data/demoo", "there is a folder data/ here: is the rest of the name mistyped?"),  # not taken for a hub id
])
def test_dataset_errors_are_one_line(tmp_path, capsys, dataset, message, monkeypatch):
    monkeypatch.chdir(ROOT)  # where data/ is
    assert run(dataset, tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_damaged_parquet_file_and_a_refused_hub_dataset_are_one_line_errors(tmp_path, capsys, monkeypatch):
    (tmp_path / "train-00000-of-00001.parquet").write_bytes(b"PAR1 this is not parquet")
    assert run(tmp_path, tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot read the parquet files of {tmp_path}: ") and len(err.splitlines()) == 1

    import datasets

    class GatedRepoError(OSError):  # the hub's HTTP errors are OSErrors
        pass

    def refused(*args, **kwargs):
        raise GatedRepoError("401 Client Error: gated dataset\nlong details")

    monkeypatch.setattr(prepare_data.hub, "require", lambda *args: None)
    monkeypatch.setattr(datasets, "load_dataset", refused)
    assert run("owner/gated", tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert "cannot load hub dataset 'owner/gated' split 'train': GatedRepoError: 401 Client Error" in err
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("flags, message", [
    (["--min_duration", "3", "--max_duration", "2"], "--min_duration must be below --max_duration"),
    (["--num_workers", "0"], "--num_workers must be at least 1"),
    (["--client_id", "x", "--top_speakers", "1"], "exclude each other"),
    (["--top_speakers", "0"], "must be at least 1"),
    (["--max_samples", "0"], "must be at least 1"),
    (["--eval_size", "-2"], "--eval_size must be at least 0"),
    (["--target_sr", "0"], "--target_sr 0: give the model's sampling rate in Hz"),
    (["--min_dnsmos", "6"], "--min_dnsmos must lie on DNSMOS's scale, 1 to 5, not 6.0"),
    (["--min_dnsmos", "nan"], "--min_dnsmos must lie on DNSMOS's scale, 1 to 5, not nan"),
    (["--min_dnsmos", "3", "--min_duration", "0.1"], "--min_dnsmos needs --min_duration of at least 0.25"),
])
def test_flag_rules_are_usage_errors(release, tmp_path, capsys, flags, message):
    with pytest.raises(SystemExit) as exit_info:
        run(release, tmp_path / "out", *flags)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_min_dnsmos_drops_a_clip_drowned_in_noise_and_keeps_a_clean_one(tmp_path, capsys):
    clean = speech_like(2.0, seed=0)
    rows = [dict(row, audio=encode(clip, 16000, "WAV")) for row, clip in zip(default_rows(2), (clean, drowned(clean, 0.0)))]
    release = write_release(tmp_path / "cv", rows)
    out = tmp_path / "out"
    assert run(release, out, "--eval_size", 0) == 0
    assert len(listed(out)) == 2 and "dnsmos" not in report(out)  # off by default: nothing scored
    capsys.readouterr()
    # the wavs written by the first run are scored as written, in two worker processes
    assert run(release, out, "--eval_size", 0, "--min_dnsmos", 2.0, "--num_workers", 2) == 0
    data = report(out)
    assert data["counts"]["dropped"] == {"low DNSMOS": 1}
    assert data["dropped_examples"]["low DNSMOS"][0].startswith("common_voice_kmr_1.mp3 (OVRL 1.")
    assert [text for _, text in listed(out)] == ["ez bîst û pênc salî me"]  # the clean clip
    assert {p.name for p in (out / "wavs").iterdir()} == {f for f, _ in listed(out)}
    scores = data["dnsmos"]
    assert scores["min_ovrl"] == 2.0 and scores["scored"] == 2  # the dropped clip's scores count too
    assert scores["ovrl"]["p10"] < 2.0 < scores["ovrl"]["p90"]  # measured: 1.6 and 2.5
    assert scores["bak"]["p10"] < scores["bak"]["p90"] - 1.5 and {"sig", "p808"} <= set(scores)
    printed = capsys.readouterr().out
    assert "kept 1 of 2: 1 low DNSMOS" in printed and "DNSMOS OVRL of 2 clips scored: mean " in printed
    with Image.open(out / "stats.png") as picture:
        assert picture.size == (4 * 347, 290)  # a fourth panel: the OVRL of the clips scored
        colours = {colour for _, colour in picture.convert("RGB").getcolors(maxcolors=100_000)}
    assert {(148, 103, 189), (214, 39, 40)} <= colours  # its bars and the threshold's line
    assert run(release, tmp_path / "strict", "--min_dnsmos", 4.5) == 1  # decoded afresh this time
    assert "most by 'low DNSMOS': 2); loosen that filter: lower --min_dnsmos" in error_line(capsys)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="natural speakers need espeak-ng (.ci/run installs it)")
def test_denoise_takes_the_background_out_and_leaves_the_voice_and_the_recordings(tmp_path):
    from kurdish_tts.samples import natural

    voice = natural.speak("Ez ji te hez dikim, heval.", natural.speaker("hevi"), 48000)
    gap = np.zeros(24000, np.float32)  # half a second of room before and after the voice
    clean = np.concatenate([gap, voice, gap])
    noisy = drowned(clean, 20.0)  # white noise 20 dB under the voice, in the gaps too
    rows = [dict(default_rows(1)[0], audio=encode(noisy, 48000, "WAV"))]
    release = write_release(tmp_path / "cv", rows)
    recording = (release / "clips" / "common_voice_kmr_0.mp3").read_bytes()
    floors = {}
    for method in ("none", "rnnoise"):
        out = tmp_path / method
        assert run(release, out, "--eval_size", 0, "--trim_db", 60, "--trim_floor_db", 0, "--denoise", method) == 0
        assert report(out)["arguments"]["denoise"] == method
        [(name, _)] = listed(out)
        prepared, rate = sf.read(out / "wavs" / name, dtype="float32")
        level = lambda part: 20 * np.log10(np.sqrt(np.mean(part**2)) + 1e-9)
        floors[method] = (level(prepared[: rate // 4]), level(prepared))  # the leading gap, the whole clip
    assert floors["rnnoise"][0] < floors["none"][0] - 10  # the gap: the hiss is gone (measured: 17 dB less)
    assert abs(floors["rnnoise"][1] - floors["none"][1]) < 4  # the voice is still there
    assert (release / "clips" / "common_voice_kmr_0.mp3").read_bytes() == recording  # never changed


def test_no_clip_left_names_the_filter(release, tmp_path, capsys):
    assert run(release, tmp_path / "out", "--min_upvotes", 5) == 1
    assert "most by 'vote filter': 8" in capsys.readouterr().err


def test_rerun_skips_written_clips_and_overwrite_rebuilds(release, tmp_path):
    out = tmp_path / "out"
    assert run(release, out) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (out / "wavs").glob("*.wav")}
    lines = listed(out)
    assert run(release, out) == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "wavs").glob("*.wav")} == first
    assert listed(out) == lines  # same ids, same split
    assert run(release, out, "--overwrite") == 0
    assert all(p.stat().st_mtime_ns != first[p.name] for p in (out / "wavs").glob("*.wav"))


def test_wavs_made_with_other_audio_settings_or_half_rebuilt_are_rebuilt(release, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(release, out) == 0
    first = {p.name: p.read_bytes() for p in (out / "wavs").glob("*.wav")}
    assert run(release, out, "--trim_db", 20) == 0  # the wavs would be cut otherwise: made again, not reused
    assert "were made with other trim_db: this run rebuilds them" in capsys.readouterr().err
    second = {p.name: p.read_bytes() for p in (out / "wavs").glob("*.wav")}
    assert second.keys() == first.keys() and second != first
    record = json.loads((out / ".wav_settings.json").read_text())
    (out / ".wav_settings.json").write_text(json.dumps(dict(record, rebuilding=True)))  # a rebuild that stopped
    assert run(release, out, "--trim_db", 20) == 0
    assert "by a run that stopped while rebuilding them" in capsys.readouterr().err
    assert run(release, out, "--trim_db", 20) == 0 and "rebuilds" not in capsys.readouterr().err  # finished: reused
    other = write_release(tmp_path / "other", [dict(row, seconds=2.5) for row in default_rows(8)])  # the same names
    assert run(other, out, "--trim_db", 20) == 0 and "made with other dataset" in capsys.readouterr().err
    assert all(sf.info(out / "wavs" / name).duration > 2 for name, _ in listed(out))  # not the first release's audio
    (out / ".wav_settings.json").unlink()
    (out / "dataset.json").write_text("[]", encoding="utf-8")  # a record of another shape: no settings known
    assert run(other, out, "--trim_db", 20) == 0 and len(listed(out)) == 8


def test_a_long_recording_is_judged_on_a_rerun_as_on_a_first_run(tmp_path):
    padded = np.concatenate([speech_like(2.0, 16000, seed=1), np.zeros(68 * 16000, np.float32)])  # 2 s of speech
    release = write_release(tmp_path / "cv", default_rows(3) + [dict(default_rows(1)[0], audio=encode(padded, 16000, "WAV"))])
    out = tmp_path / "out"
    assert run(release, out, "--max_duration", 20, "--eval_size", 0) == 0 and len(listed(out)) == 4  # 80 s allowed
    assert run(release, out, "--eval_size", 0) == 0  # its wav is reused, but 70 s as recorded is over 4 x 15
    assert report(out)["counts"]["dropped"] == {"too long": 1} and len(listed(out)) == 3


def test_a_rerun_with_stricter_filters_removes_the_wavs_it_drops(release, tmp_path):
    out = tmp_path / "out"
    assert run(release, out) == 0
    assert run(release, out, "--min_duration", 1.6) == 0
    assert report(out)["counts"]["dropped"] == {"too short": 4}  # the clips of 1.4 and 1.55 s
    assert {p.name for p in (out / "wavs").iterdir()} == {f for f, _ in listed(out)}


def test_a_rerun_that_keeps_no_clip_leaves_the_prepared_folder_as_it_was(release, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(release, out) == 0
    before = {p.name: p.read_bytes() for p in [*out.iterdir(), *(out / "wavs").iterdir()] if p.is_file()}
    capsys.readouterr()
    assert run(release, out, "--min_duration", 9) == 1  # every clip too short: its metadata lists them all still
    assert "too short" in error_line(capsys)
    assert {p.name: p.read_bytes() for p in [*out.iterdir(), *(out / "wavs").iterdir()] if p.is_file()} == before


def test_max_samples_with_workers_leaves_no_unlisted_wav(tmp_path):
    release = write_release(tmp_path / "cv", default_rows(60))
    out = tmp_path / "out"
    # 2 workers keep 6 chunks of 8 clips in flight: when the 5th clip is kept, others are already written
    assert prepare_data.main(["--dataset", str(release), "--output_dir", str(out), "--num_workers", "2",
                              "--max_samples", "5", "--eval_size", "1"]) == 0
    assert len(listed(out)) == 5
    assert {p.name for p in (out / "wavs").iterdir()} == {f for f, _ in listed(out)}


def test_parallel_workers_give_the_same_result(release, tmp_path):
    assert run(release, tmp_path / "one") == 0
    assert prepare_data.main(["--dataset", str(release), "--output_dir", str(tmp_path / "two"), "--num_workers", "2"]) == 0
    assert listed(tmp_path / "one") == listed(tmp_path / "two")
    for file, _ in listed(tmp_path / "one"):
        assert (tmp_path / "one" / "wavs" / file).read_bytes() == (tmp_path / "two" / "wavs" / file).read_bytes()


def alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "\tZ" not in status.read_text().split("State:")[1].splitlines()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_killed_run_leaves_nothing_half_written(tmp_path):
    rows = [dict(r, seconds=6.0) for r in default_rows(40)]
    release = write_release(tmp_path / "cv", rows)
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "prepare_data.py"), "--dataset", str(release), "--output_dir", str(out), "--num_workers", "2"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=dict(os.environ, HF_HUB_OFFLINE="1"))
    deadline = time.monotonic() + 60
    while len(list((out / "wavs").glob("*.wav"))) < 5 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(children) == 2  # the workers, which must not outlive the main process
    deadline = time.monotonic() + 10
    while any(alive(int(pid)) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(int(pid)) for pid in children)
    assert not (out / "metadata.csv").exists()
    for wav in (out / "wavs").glob("*.wav"):
        assert sf.info(str(wav)).frames > 0  # every wav there is whole
    assert run(release, out) == 0
    files = {p.name for p in (out / "wavs").glob("*.wav")}
    assert {f for f, _ in listed(out)} == files and len(files) == 40
    assert not list((out / "wavs").glob(".*"))


def minutes_decoded(summary: str) -> float:
    line, = [line for line in summary.splitlines() if line.startswith("audio: ")]
    return float(line.split()[1])


def test_hours_before_counts_every_clip_that_decoded_on_every_run(tmp_path, capsys):
    rows = default_rows(3) + [
        dict(default_rows(1)[0], audio=encode(np.zeros(32000, np.float32), 16000, "WAV")),  # silent, 2 s
        dict(default_rows(1)[0], seconds=0.3),  # too short
        dict(default_rows(1)[0], seconds=15.5),  # too long
        dict(default_rows(1)[0], audio=b"not audio" * 40),  # does not decode: not counted
    ]
    release = write_release(tmp_path / "cv", rows)
    decoded = sum(sf.info(str(release / "clips" / f"common_voice_kmr_{i}.mp3")).duration for i in range(6))
    out = tmp_path / "out"
    for attempt in ("first run", "re-run reusing the wavs"):
        assert run(release, out, "--eval_size", 0) == 0, attempt
        data = report(out)
        assert data["counts"]["dropped"] == {"silent": 1, "too short": 1, "too long": 1, "undecodable audio": 1}
        assert data["hours_before"] == pytest.approx(decoded / 3600, abs=0.00006), attempt
        assert minutes_decoded(capsys.readouterr().out) == pytest.approx(decoded / 60, abs=0.06), attempt


def test_hours_before_of_a_reused_wav_reads_only_the_source_header(release, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run(release, out) == 0
    before = report(out)["hours_before"]

    def no_decoding(data):
        raise AssertionError("a clip whose wav is already written is decoded again")

    monkeypatch.setattr(audio, "decode", no_decoding)
    assert run(release, out) == 0
    assert report(out)["hours_before"] == before


def test_parquet_split_that_does_not_exist_is_an_error(tmp_path, capsys):
    named = tmp_path / "named"
    named.mkdir()
    hub_table(default_rows(2)).to_parquet(str(named / "train-00000-of-00001.parquet"))
    hub_table(default_rows(3)).to_parquet(str(named / "test-00000-of-00001.parquet"))
    capsys.readouterr()
    assert run(named, tmp_path / "out", "--split", "dev") == 1
    assert error_line(capsys).endswith("has no split 'dev': choose --split from test, train")

    unnamed = tmp_path / "unnamed"  # files that carry no split names: one table, read whole only without --split
    unnamed.mkdir()
    hub_table(default_rows(2)).to_parquet(str(unnamed / "part_a.parquet"))
    hub_table([dict(r, path=f"other_{i}.mp3") for i, r in enumerate(default_rows(3))]).to_parquet(str(unnamed / "part_b.parquet"))
    assert run(unnamed, tmp_path / "whole", "--eval_size", 0) == 0
    assert report(tmp_path / "whole")["counts"]["kept"] == 5
    capsys.readouterr()
    assert run(unnamed, tmp_path / "test", "--split", "test") == 1
    assert error_line(capsys).endswith("has no split 'test': its files carry no split names: leave out --split")


def test_split_of_a_single_saved_dataset_is_an_error(tmp_path, capsys):
    hub_table(default_rows(2), audio_column="audio").save_to_disk(str(tmp_path / "disk"))
    capsys.readouterr()
    assert run(tmp_path / "disk", tmp_path / "out", "--split", "test") == 1
    assert error_line(capsys).endswith("not a split 'test': leave out --split")


def rename_release_columns(release: Path, names: dict[str, str]) -> None:
    table = release / "validated.tsv"
    header, _, body = table.read_text(encoding="utf-8").partition("\n")
    table.write_text("\t".join(names.get(c, c) for c in header.split("\t")) + "\n" + body, encoding="utf-8")


def test_release_folder_columns_can_be_named(tmp_path, capsys):
    release = write_release(tmp_path / "cv", default_rows(3))
    rename_release_columns(release, {"path": "file", "sentence": "transcript"})
    assert run(release, tmp_path / "none", "--eval_size", 0) == 1
    assert "no audio column: pass --audio_column with one of client_id, file, sentence_id, transcript" in error_line(capsys)
    out = tmp_path / "out"
    assert run(release, out, "--audio_column", "file", "--text_column", "transcript", "--eval_size", 0) == 0
    assert "ez bîst û pênc salî me" in {text for _, text in listed(out)} and report(out)["counts"]["kept"] == 3
    capsys.readouterr()
    assert run(release, tmp_path / "typo", "--audio_column", "file", "--text_column", "transcripts") == 1
    assert "no text column 'transcripts': the columns are client_id, file, sentence_id, transcript" in error_line(capsys)


def test_release_folder_text_column_is_honoured_and_falls_back_to_text(tmp_path):
    release = write_release(tmp_path / "cv", default_rows(2))
    rename_release_columns(release, {"sentence": "text"})
    assert run(release, tmp_path / "text", "--eval_size", 0) == 0
    assert "ez bîst û pênc salî me" in {text for _, text in listed(tmp_path / "text")}
    rename_release_columns(release, {"sentence_id": "sentence"})  # now "s0", "s1" in sentence; text still the words
    assert run(release, tmp_path / "named", "--text_column", "text", "--eval_size", 0) == 0
    assert "ez bîst û pênc salî me" in {text for _, text in listed(tmp_path / "named")}


def test_parquet_audio_column_of_another_name_and_the_text_column_fallback(tmp_path, capsys):
    table = hub_table(default_rows(3), audio_column="recording").rename_column("sentence", "text")
    table.to_parquet(str(tmp_path / "d.parquet"))
    capsys.readouterr()
    assert run(tmp_path / "d.parquet", tmp_path / "none") == 1
    assert "no audio column: pass --audio_column with one of client_id, recording, text" in error_line(capsys)
    out = tmp_path / "out"
    assert run(tmp_path / "d.parquet", out, "--audio_column", "recording", "--eval_size", 0) == 0
    assert report(out)["counts"]["kept"] == 3
    assert "ez bîst û pênc salî me" in {text for _, text in listed(out)}  # read from `text`


@pytest.mark.parametrize("model", ["/nonexistent/my-model", "./my-model", "../my-model", "~/no-such-model-here", "a-file"])
def test_a_mistyped_model_path_is_an_error_not_the_builtin_vocabulary(release, tmp_path, monkeypatch, capsys, model):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a model folder", encoding="utf-8")
    assert run(release, tmp_path / "out", "--model_name_or_path", model) == 1
    assert error_line(capsys).startswith(f"error: model folder not found: {model} ")


@pytest.mark.parametrize("failure", ["RepositoryNotFoundError", "EntryNotFoundError", "HfHubHTTPError", "HFValidationError"])
def test_a_hub_model_that_cannot_be_downloaded_is_a_one_line_error(release, tmp_path, monkeypatch, capsys, failure):
    import huggingface_hub
    from huggingface_hub import errors

    from kurdish_tts import hub

    def download(repo_id, filename, **kwargs):
        kind = getattr(errors, failure)
        if issubclass(kind, errors.HfHubHTTPError):
            http = sys.modules[errors.Response.__module__]
            response = errors.Response(404, request=http.Request("GET", f"https://huggingface.co/{repo_id}"))
            raise kind("404 Client Error.\n\nRepository Not Found for url", response=response)
        raise kind(f"{filename} not found in {repo_id}\nmore detail")

    monkeypatch.setattr(hub, "reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    assert run(release, tmp_path / "out", "--model_name_or_path", "someone/no-such-model") == 1
    err = error_line(capsys)
    assert err.startswith("error: cannot download the vocabulary of hub model 'someone/no-such-model': ") and failure in err


def test_progress_bar_reaches_every_row(tmp_path, capsys):
    rows = default_rows(4) + [
        dict(default_rows(1)[0], up_votes=0),  # dropped before a worker sees it: votes
        dict(default_rows(1)[0], gender="other"),  # gender
        dict(default_rows(1)[0], client_id="c" * 64),  # speaker
        dict(default_rows(1)[0], missing=True),  # a problem of the row
        dict(default_rows(1)[0], path="common_voice_kmr_0.mp3"),  # a duplicate
    ]
    out = tmp_path / "out"
    speakers = ["--client_id", "a" * 64, "--speaker", "b" * 64, "--gender", "female"]  # the old spelling too
    assert run(write_release(tmp_path / "cv", rows), out, *speakers, "--eval_size", 0) == 0
    assert sum(report(out)["counts"]["dropped"].values()) == 7  # the 2 male rows among them
    err = capsys.readouterr().err
    bar = err.split("\r")[-1]
    assert "100%" in bar and "9/9" in bar and "dropped=7, kept=2" in bar
    assert "notice: --speaker is now spelt --client_id" in err


def test_no_clip_left_advice_fits_the_reason(tmp_path, capsys):
    unreadable = write_release(tmp_path / "bad", [dict(r, audio=b"not audio" * 40) for r in default_rows(3)])
    assert run(unreadable, tmp_path / "a") == 1
    err = error_line(capsys)
    assert "most by 'undecodable audio': 3" in err and "could not be read" in err and "check the dataset" in err
    assert "loosen" not in err

    short = write_release(tmp_path / "short", [dict(r, seconds=0.3) for r in default_rows(3)])
    assert run(short, tmp_path / "b") == 1
    err = error_line(capsys)
    assert "most by 'too short': 3" in err and "loosen that filter: lower --min_duration" in err

    assert run(short, tmp_path / "c", "--client_id", "nobody") == 1
    assert "most by 'other speaker': 3" in (err := error_line(capsys)) and "--client_id" in err

    empty = write_release(tmp_path / "empty", [])
    assert run(empty, tmp_path / "d") == 1
    err = error_line(capsys)
    assert "the dataset has no rows" in err and "--split" in err and "validated.tsv" in err


def test_temporary_files_of_a_killed_run_are_removed(release, tmp_path):
    out = tmp_path / "out"
    (out / "wavs").mkdir(parents=True)
    leftovers = [out / ".metadata.csv.k2j4x_.tmp", out / ".metadata_eval.csv.a8s7d6.tmp", out / ".dataset.json.q1w2e3.tmp",
                 out / ".stats.png.z9x8c7.tmp", out / "wavs" / ".kmr_0123456789abcdef.wav.r4t5y6.tmp"]
    for leftover in leftovers:
        leftover.write_bytes(b"half")
    others = [out / ".notes.txt.abc.tmp", out / "notes.txt"]  # not ours: left alone
    for other in others:
        other.write_bytes(b"mine")
    assert run(release, out) == 0
    assert not any(leftover.exists() for leftover in leftovers)
    assert all(other.exists() for other in others)


def test_max_downvotes(tmp_path):
    rows = default_rows(3) + [dict(default_rows(1)[0], down_votes=1)]
    release = write_release(tmp_path / "cv", rows)
    assert run(release, tmp_path / "default", "--eval_size", 0) == 0
    assert report(tmp_path / "default")["counts"]["dropped"] == {"vote filter": 1}
    assert run(release, tmp_path / "one", "--max_downvotes", 1, "--eval_size", 0) == 0
    assert report(tmp_path / "one")["counts"] == {"kept": 4, "train": 4, "eval": 0, "dropped": {}, "dropped_total": 0}


def test_trim_db_sets_how_much_is_trimmed(tmp_path):
    release = write_release(tmp_path / "cv", default_rows(1))
    lengths = {}
    for top_db in (20, 70):
        out = tmp_path / str(top_db)
        assert run(release, out, "--trim_db", top_db, "--trim_floor_db", 0, "--eval_size", 0) == 0
        (file, _), = listed(out)
        lengths[top_db] = sf.info(str(out / "wavs" / file)).frames
    assert lengths[20] < lengths[70] - 0.3 * 16000  # the faint noise at both ends is kept at 70 dB


def test_trim_floor_db_cuts_the_room_noise_a_recording_opens_and_closes_on(tmp_path):
    rng = np.random.default_rng(1)
    voice = speech_like(1.5, 48000, pad=0.0)
    room = lambda seconds: 0.3 * 10 ** (-25 / 20) * rng.standard_normal(int(seconds * 48000)).astype(np.float32)
    rows = [dict(default_rows(1)[0], audio=encode(np.concatenate([room(1.0), voice + room(1.5), room(1.0)]), 48000, "WAV"))]
    release = write_release(tmp_path / "cv", rows)
    seconds = {}
    for floor_db in (0, 10):
        out = tmp_path / str(floor_db)
        assert run(release, out, "--trim_floor_db", floor_db, "--eval_size", 0) == 0
        assert report(out)["arguments"]["trim_floor_db"] == floor_db
        (file, _), = listed(out)
        seconds[floor_db] = sf.info(str(out / "wavs" / file)).duration
    assert seconds[0] > 3.4 and 1.5 <= seconds[10] < 1.8  # 2 s of room noise kept, then cut to the voice and 0.1 s


def test_target_sr(release, tmp_path):
    out = tmp_path / "out"
    assert run(release, out, "--target_sr", 22050) == 0
    assert report(out)["sample_rate"] == 22050
    assert {sf.info(str(out / "wavs" / file)).samplerate for file, _ in listed(out)} == {22050}


def test_seed_chooses_the_eval_split(tmp_path):
    rows = [dict(r, seconds=1.2, sentence="Rojbaş, tu çawa yî?") for r in default_rows(24)]
    save(hub_table(rows), tmp_path / "data", "parquet")
    held = {}
    for seed in (1, 2, 1):
        out = tmp_path / f"seed{seed}"
        assert run(tmp_path / "data", out, "--seed", seed, "--eval_size", 6) == 0
        clips = {file for file, _ in read_metadata_lines(out / "metadata_eval.csv")}
        assert held.setdefault(seed, clips) == clips and len(clips) == 6  # the same seed, the same split
    assert held[1] != held[2]


@pytest.mark.parametrize("rows, held_out", [(10, 2), (300, 6)])
def test_default_eval_size(tmp_path, rows, held_out):
    table = [dict(r, seconds=0.6, sentence="Rojbaş, tu çawa yî?") for r in default_rows(rows)]
    save(hub_table(table), tmp_path / "data", "parquet")
    out = tmp_path / "out"
    assert run(tmp_path / "data", out, "--min_duration", 0.5) == 0
    assert report(out)["counts"]["kept"] == rows
    assert len(read_metadata_lines(out / "metadata_eval.csv")) == held_out
    assert len(read_metadata_lines(out / "metadata.csv")) == rows - held_out


def test_speaker_given_twice(tmp_path):
    rows = [dict(r, client_id="abc"[i % 3] * 8) for i, r in enumerate(default_rows(6))]
    out = tmp_path / "out"
    assert run(write_release(tmp_path / "cv", rows), out, "--speaker", "a" * 8, "--speaker", "c" * 8, "--eval_size", 0) == 0
    data = report(out)
    assert data["speakers"]["clips"] == {"a" * 8: 2, "c" * 8: 2} and data["counts"]["dropped"] == {"other speaker": 2}


def test_bar_and_line_break_in_a_sentence_never_reach_the_metadata(tmp_path):
    rows = [dict(default_rows(1)[0], sentence="Ez 25 salî me | tu\nçawa yî?\r\nbaş|")]
    save(hub_table(rows), tmp_path / "data", "parquet")
    out = tmp_path / "out"
    assert run(tmp_path / "data", out, "--eval_size", 0) == 0
    lines = (out / "metadata.csv").read_text(encoding="utf-8").split("\n")
    assert len(lines) == 2 and lines[1] == ""
    file, text = lines[0].split("|")
    assert text == "ez bîst û pênc salî me tu çawa yî baş" and (out / "wavs" / file).is_file()
