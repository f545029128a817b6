"""Evaluation measures on known signals, and synthesize.py --evaluate on two tiny models."""

import json

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch

import synthesize
from conftest import speech_like
from kurdish_tts.evaluation import character_error_rate, duration_ratio, mcd_dtw
from kurdish_tts.metadata import Clip, write_metadata
from test_synthesize import model_dir  # noqa: F401  (fixture)


def test_mcd_of_a_clip_with_itself_is_zero_and_grows_with_noise():
    clip = speech_like(1.5, seed=1)
    rng = np.random.default_rng(0)
    assert mcd_dtw(clip, clip, 16000) == pytest.approx(0.0, abs=1e-6)
    distortions = [mcd_dtw(clip, clip + level * rng.standard_normal(clip.size).astype(np.float32), 16000)
                   for level in (0.001, 0.01, 0.05)]
    assert 0 < distortions[0] < distortions[1] < distortions[2]


def test_mcd_ignores_loudness_and_sits_on_the_usual_db_scale():
    clip = speech_like(1.5, seed=1)
    assert mcd_dtw(clip, 0.5 * clip, 16000) == pytest.approx(0.0, abs=1e-3)  # gain lives in c0, left out
    other = speech_like(1.5, seed=2, pitch=220.0)
    assert 1.0 < mcd_dtw(clip, other, 16000) < 20.0  # another voice: MCDs of a few dB, not hundreds


def test_duration_ratio_of_a_stretched_copy():
    clip = speech_like(2.0, seed=2, pad=0.0)
    slower = librosa.effects.time_stretch(clip, rate=0.8)  # 1.25 times as long
    assert duration_ratio(clip, slower) == pytest.approx(1.25, rel=0.05)
    assert duration_ratio(clip, clip) == pytest.approx(1.0)


def test_character_error_rate():
    assert character_error_rate("ez im", "ez im") == 0
    assert character_error_rate("ez im", "ez in") == pytest.approx(0.2)
    assert character_error_rate("abc", "") == 1.0


@pytest.fixture
def second_model(model_dir, tmp_path):  # noqa: F811
    from transformers import VitsModel

    model = VitsModel.from_pretrained(model_dir)
    with torch.no_grad():
        for parameter in model.decoder.parameters():
            parameter.mul_(1.5)
    folder = tmp_path / "other"
    model.save_pretrained(folder)
    for name in ("vocab.json", "tokenizer_config.json"):
        (folder / name).write_bytes((model_dir / name).read_bytes())
    return folder


def test_evaluate_two_models_writes_table_report_and_picture(model_dir, second_model, tmp_path, capsys):  # noqa: F811
    data = tmp_path / "training"
    (data / "wavs").mkdir(parents=True)
    clips = []
    for i, text in enumerate(["ez ji te hez dikim", "rojbaş tu çawa yî", "av sar e"]):
        sf.write(data / "wavs" / f"e{i}.wav", speech_like(1.5, seed=i), 16000, subtype="PCM_16")
        clips.append(Clip(f"e{i}.wav", text))
    write_metadata(data / "metadata_eval.csv", clips)
    report = tmp_path / "out" / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--model", str(second_model), "--metadata",
                            str(data / "metadata_eval.csv"), "--report", str(report), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "MCD-DTW" in out and str(second_model)[-40:] in out
    data = json.loads(report.read_text())
    assert set(data["summary"]) == {str(model_dir), str(second_model)}
    assert len(data["clips"]) == 6 and all(c["mcd_dtw"] > 0 and c["duration_ratio"] > 0 for c in data["clips"])
    assert report.with_suffix(".png").stat().st_size > 10_000


def test_evaluation_errors(model_dir, tmp_path, capsys):  # noqa: F811
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(tmp_path / "none.csv")]) == 1
    assert "not found" in capsys.readouterr().err
    write_metadata(tmp_path / "m.csv", [Clip("a.wav", "ez")])
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(tmp_path / "m.csv"),
                            "--asr_model", str(tmp_path / "no_asr")]) == 1
    assert "--asr_model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        synthesize.main(["--model", "a", "--model", "b", "--text", "ez"])


def tiny_recognizer(folder):
    """A random, tiny wav2vec2 CTC model with a Kurmanji character vocabulary, saved as a local folder."""
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    folder.mkdir(parents=True)
    letters = "abcçdeêfghiîjklmnopqrsştuûvwxyz"
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{c: i + 3 for i, c in enumerate(letters)}}
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), word_delimiter_token="|")
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(sampling_rate=16000), tokenizer)
    config = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=32, conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4),
                            num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2, pad_token_id=0)
    torch.manual_seed(0)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def test_asr_model_gives_a_character_error_rate(model_dir, tmp_path):  # noqa: F811
    data = tmp_path / "training"
    (data / "wavs").mkdir(parents=True)
    sf.write(data / "wavs" / "e0.wav", speech_like(1.5, seed=0), 16000, subtype="PCM_16")
    write_metadata(data / "metadata_eval.csv", [Clip("e0.wav", "ez ji te hez dikim")])
    report = tmp_path / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(data / "metadata_eval.csv"),
                            "--asr_model", str(tiny_recognizer(tmp_path / "asr")), "--report", str(report)]) == 0
    scores = json.loads(report.read_text())
    cer = scores["clips"][0]["cer"]
    assert cer is not None and cer > 0  # a random recogniser cannot transcribe it
    assert scores["summary"][str(model_dir)]["cer_mean"] == pytest.approx(cer)
