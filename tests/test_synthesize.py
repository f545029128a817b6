"""synthesize.py driven through main(argv) with a tiny random model saved like a trained one."""

import json

import numpy as np
import pytest
import soundfile as sf

import synthesize
from conftest import ROOT
from kurdish_tts.synthesis import Voice


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    import torch
    from transformers import VitsConfig, VitsModel

    from kurdish_tts.vocabulary import builtin_vocabulary, write_tokenizer_files

    values = json.loads((ROOT / "configs" / "tiny.json").read_text())
    values.pop("discriminator")
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    VitsModel(VitsConfig(**values)).save_pretrained(folder)
    write_tokenizer_files(folder, builtin_vocabulary())
    return folder


def test_same_seed_same_audio_and_rtf(model_dir, tmp_path, capsys):
    for name in ("a.wav", "b.wav"):
        assert synthesize.main(["--model", str(model_dir), "--text", "Ez 25 salî me.", "--seed", "3",
                                "--output", str(tmp_path / name)]) == 0
    a, rate = sf.read(tmp_path / "a.wav")
    b, _ = sf.read(tmp_path / "b.wav")
    assert rate == 16000 and np.array_equal(a, b) and np.abs(a).max() > 0
    assert "real-time factor" in capsys.readouterr().out
    assert synthesize.main(["--model", str(model_dir), "--text", "Ez 25 salî me.", "--seed", "4",
                            "--output", str(tmp_path / "c.wav")]) == 0
    assert not np.array_equal(a, sf.read(tmp_path / "c.wav")[0])


def test_digits_reach_the_tokenizer_and_sentences_are_split(model_dir):
    voice = Voice(model_dir)
    assert voice.sentences("Ez 25 salî me. Tu çawa yî?") == ["ez bîst û pênc salî me", "tu çawa yî"]


def test_speaking_rate_changes_the_length(model_dir, tmp_path):
    lengths = []
    for rate in ("1.0", "2.0"):
        assert synthesize.main(["--model", str(model_dir), "--text", "Rojbaş, ez bi kurdî diaxivim.", "--seed", "1",
                                "--speaking_rate", rate, "--noise_scale_duration", "0", "--output", str(tmp_path / f"{rate}.wav")]) == 0
        lengths.append(len(sf.read(tmp_path / f"{rate}.wav")[0]))
    assert lengths[1] < 0.7 * lengths[0]


def test_text_file_writes_a_folder(model_dir, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("Rojbaş!\n\nEz 3 sêv dixwim.\n", encoding="utf-8")
    assert synthesize.main(["--model", str(model_dir), "--text_file", str(lines), "--output", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0001.wav", "0002.wav"]


@pytest.mark.parametrize("argv, message", [
    (["--model", "no_such_folder", "--text", "ez"], "not found"),
    (["--text", "ez"], "model hub is unreachable"),
    (["--text", "   "], "the text is empty"),
    (["--text", "?! …"], "nothing in"),
    (["--text", "ez", "--speaker_id", "1"], "multi-speaker"),
])
def test_errors_are_one_line(model_dir, tmp_path, capsys, argv, message):
    if "--model" not in argv:
        argv = (["--model", str(model_dir)] if "hub" not in message else []) + argv
    assert synthesize.main(argv + ["--output", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()
