"""synthesize.py driven through main(argv) with a tiny random model saved like a trained one."""

import json
import os
import shutil
import sys

import numpy as np
import pytest
import soundfile as sf
from helpers import random_model

import synthesize
from kurdish_tts.synthesis.voice import Settings, Voice


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


def test_digits_are_spoken_as_words_and_sentences_are_split(model_dir):
    voice = Voice(model_dir)
    assert voice.sentences("Ez 25 salî me. Tu çawa yî?") == ["ez bîst û pênc salî me", "tu çawa yî"]


def test_a_sentence_is_spoken_as_the_training_text_reads_it(model_dir):
    from kurdish_tts.text.normalizer import normalize_text

    voice = Voice(model_dir)
    text = "Dr. Azad di 2. rojê de, saet 14:30, bi 3.5 € hat. No. 5 û hwd. Baş e!"
    assert voice.sentences(text) == ["doktor azad di duyem rojê de saet çardeh û sî bi sê xal pênc ewro hat",
                                     "hejmar pênc û wekî din baş e"]
    assert " ".join(voice.sentences(text)) == normalize_text(text, voice.vocabulary.characters).text


def test_normalize_only_prints_what_will_be_spoken(model_dir, tmp_path, capsys):
    assert synthesize.main(["--text", "Bi 5 € û 10 $. Tel: 0532 123 45 67 😀", "--normalize_only"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["bi pênc ewro û deh dolar",
                                         "telefon sifir pênc sê du yek du sê çil û pênc şêst û heft"]
    assert "'😀' x1" in captured.err and "version 2" in captured.err and not (tmp_path / "output.wav").exists()
    lines = tmp_path / "lines.txt"
    lines.write_text("Yek. Du\nSê 3 km\n", encoding="utf-8")
    assert synthesize.main(["--model", str(model_dir), "--text_file", str(lines), "--normalize_only"]) == 0
    assert capsys.readouterr().out.splitlines() == ["yek", "du", "", "sê sê kîlometre"]
    with pytest.raises(SystemExit):
        synthesize.main(["--text", "ez", "--normalize_only", "--output", str(tmp_path / "x.wav")])
    assert "--output does not combine with --normalize_only" in capsys.readouterr().err


def test_a_model_trained_on_text_of_another_normaliser_version_is_noticed(model_dir, tmp_path, capsys):
    from kurdish_tts.synthesis.voice import normalizer_notice

    folder = tmp_path / "old"
    shutil.copytree(model_dir, folder)
    assert normalizer_notice(folder) is None  # no card: nothing to compare with (MMS from the hub)
    (folder / "README.md").write_text("---\nlanguage: kmr\ntext_normalizer: 2\n---\n# v\n", encoding="utf-8")
    assert normalizer_notice(folder) is None
    (folder / "README.md").write_text("---\nlanguage: kmr\ntext_normalizer: 1\n---\n# v\n", encoding="utf-8")
    assert synthesize.main(["--model", str(folder), "--text", "ez", "--output", str(tmp_path / "a.wav")]) == 0
    assert "notice: the training text of" in capsys.readouterr().err


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
    (["--text", "ez", "--speaker_id", "1"], "this model has one voice"),
])
def test_errors_are_one_line(model_dir, tmp_path, capsys, argv, message):
    if "--model" not in argv:
        argv = (["--model", str(model_dir)] if "hub" not in message else []) + argv
    assert synthesize.main(argv + ["--output", str(tmp_path / "x.wav")]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


@pytest.mark.parametrize("argv, message", [
    (["--text", "ez", "--batch_size", "0"], "--batch_size must be 1 or more, not 0"),
    (["--text", "ez", "--seed", "-1"], "--seed must be 0 or more, not -1"),
    (["--evaluate", "--max_clips", "0"], "--max_clips must be 1 or more, not 0 (leave it out to evaluate on every clip)"),
    (["--text", "ez", "--speaking_rate", "nan"], "argument --speaking_rate: must be a finite number, not 'nan'"),
    (["--text", "ez", "--noise_scale", "nan"], "argument --noise_scale: must be a finite number, not 'nan'"),
    (["--evaluate", "--noise_scale_duration", "NaN"], "argument --noise_scale_duration: must be a finite number, not 'NaN'"),
    (["--text", "ez", "--speaking_rate", "inf"], "argument --speaking_rate: must be a finite number, not 'inf'"),
    (["--text", "ez", "--noise_scale", "loud"], "argument --noise_scale: expected a number, not 'loud'"),
])
def test_out_of_range_options_are_parser_errors(model_dir, tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        synthesize.main(["--model", str(model_dir), *argv, "--output" if "--text" in argv else "--report",
                         str(tmp_path / "x.wav")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_onnx_export_speaks_like_pytorch(model_dir, tmp_path, capsys):
    import torch

    from kurdish_tts.synthesis.engines import OnnxEngine

    exported = tmp_path / "onnx"
    assert synthesize.main(["--model", str(model_dir), "--export_onnx", str(exported)]) == 0
    assert "against PyTorch: largest difference" in capsys.readouterr().out
    onnx_voice, torch_voice = Voice(exported), Voice(model_dir)
    assert isinstance(onnx_voice.engine, OnnxEngine)
    threads = onnx_voice.engine.encoder.get_session_options().intra_op_num_threads
    assert threads == torch.get_num_threads()  # serve.py's threads per worker reach ONNX Runtime too
    text = "Ez 25 salî me. Rojbaş!"  # two sentences, one shorter than the exported minimum length
    a, b = torch_voice.speak(text, Settings(seed=3)), onnx_voice.speak(text, Settings(seed=3))
    assert a.shape == b.shape and np.abs(a).max() > 0.01
    assert np.abs(a - b).max() < 1e-3
    assert synthesize.main(["--model", str(exported), "--text", text, "--seed", "3", "--output", str(tmp_path / "o.wav")]) == 0
    assert len(sf.read(tmp_path / "o.wav")[0]) == len(b)


def test_onnx_export_of_a_stochastic_multi_speaker_model(tmp_path):
    folder = random_model(tmp_path / "model", use_stochastic_duration_prediction=True, num_speakers=3,
                          speaker_embedding_size=8, voices=["rojda", "azad", "hevi"])
    assert synthesize.main(["--model", str(folder), "--export_onnx", str(tmp_path / "onnx")]) == 0
    assert Voice(tmp_path / "onnx").voices == ["rojda", "azad", "hevi"]  # the export keeps the voices' names
    text = "Hewa îro pir xweş e. Em ê herin baxçe û bi hev re 12 sêvan bixwin."
    for speaker in (0, 2):
        settings = Settings(seed=5, speaker_id=speaker, batch_size=2)
        a, b = Voice(folder).speak(text, settings), Voice(tmp_path / "onnx").speak(text, settings)
        assert a.shape == b.shape and np.abs(a - b).max() < 1e-3
    by_name = Voice(tmp_path / "onnx").speak(text, Settings(seed=5, voice="hevi", batch_size=2))
    assert np.array_equal(by_name, b)  # "hevi" is speaker 2
    different = Voice(folder).speak(text, Settings(seed=5, speaker_id=1, batch_size=2))
    assert different.shape != a.shape or not np.allclose(different, a)


def test_quantized_export_has_int8_vocoder_and_still_speaks(model_dir, tmp_path):
    import onnx

    from kurdish_tts.scoring.measures import mcd_dtw
    from kurdish_tts.synthesis.engines import VOCODER_FILE

    assert synthesize.main(["--model", str(model_dir), "--export_onnx", str(tmp_path / "int8"), "--quantize"]) == 0
    graph = onnx.load(str(tmp_path / "int8" / VOCODER_FILE)).graph
    quantized = {n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    assert any("/decoder/resblocks" in n.name for n in graph.node if n.op_type == "Conv" and n.input[1] in
               {m.output[0] for m in graph.node if m.op_type == "DequantizeLinear"})
    assert quantized and not any("/flow/" in n.name for n in graph.node if n.op_type == "DequantizeLinear")
    text = "Ez 25 salî me û li Amedê dijîm."
    reference, audio = Voice(model_dir).speak(text, Settings(seed=2)), Voice(tmp_path / "int8").speak(text, Settings(seed=2))
    assert audio.shape == reference.shape and np.isfinite(audio).all() and np.abs(audio).max() > 0.01
    assert 0 < mcd_dtw(reference, audio, 16000) < 3.0  # close to the float model, not the same


def test_export_errors(model_dir, tmp_path, capsys):
    assert synthesize.main(["--model", str(model_dir), "--export_onnx", str(tmp_path / "onnx")]) == 0
    capsys.readouterr()
    assert synthesize.main(["--model", str(tmp_path / "onnx"), "--export_onnx", str(tmp_path / "again")]) == 1
    assert "already an ONNX export" in capsys.readouterr().err
    assert synthesize.main(["--model", str(tmp_path / "missing"), "--export_onnx", str(tmp_path / "x")]) == 1
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        synthesize.main(["--model", str(model_dir), "--quantize", "--text", "ez"])
    assert exit_info.value.code == 2 and "--quantize and --format go with --export_onnx" in capsys.readouterr().err
    assert not (tmp_path / "again").exists() and not (tmp_path / "x").exists()


def test_export_never_deletes_a_folder_that_is_not_an_export(model_dir, tmp_path, capsys):
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    before = sorted(p.name for p in model.iterdir())
    assert synthesize.main(["--model", str(model), "--export_onnx", str(model)]) == 1  # onto the model itself
    assert "exists and is not an ONNX export" in capsys.readouterr().err
    assert sorted(p.name for p in model.iterdir()) == before
    exported = tmp_path / "onnx"
    assert synthesize.main(["--model", str(model), "--export_onnx", str(exported)]) == 0
    assert synthesize.main(["--model", str(model), "--export_onnx", str(exported), "--quantize"]) == 0  # replaced
    assert not list(tmp_path.glob(".onnx*"))  # no folder left aside


@pytest.mark.parametrize("kind, module", [("sherpa-onnx", "sherpa_onnx"), ("piper", "piper")])
def test_an_export_for_a_runtime_not_installed_says_how_to_install_it(model_dir, tmp_path, capsys, monkeypatch, kind,
                                                                       module):
    monkeypatch.setitem(sys.modules, module, None)  # as if the runtimes extra were not installed
    assert synthesize.main(["--model", str(model_dir), "--export_onnx", str(tmp_path / "x"), "--format", kind]) == 1
    err = capsys.readouterr().err.strip()
    assert "is not installed: pip install -e '.[runtimes]'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_export_into_an_unwritable_place_is_a_one_line_error(model_dir, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert synthesize.main(["--model", str(model_dir), "--export_onnx", str(tmp_path / "file" / "onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and f"File exists: '{tmp_path / 'file'}'" in err and len(err.splitlines()) == 1


def test_speech_that_cannot_be_read_or_written_is_a_one_line_error(model_dir, tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    (tmp_path / "latin1.txt").write_bytes("ez hatim û çûm".encode("latin-1"))
    for argv, message in [
        (["--text", "ez", "--output", str(tmp_path / "file" / "a.wav")], f"File exists: '{tmp_path / 'file'}'"),  # inside a file
        (["--text_file", str(tmp_path / "latin1.txt")], "is not UTF-8 text"),
        (["--text_file", str(tmp_path / "latin1.txt"), "--normalize_only"], "is not UTF-8 text"),
        (["--text_file", str(tmp_path / "missing.txt"), "--normalize_only"], "not found"),
    ]:
        assert synthesize.main(["--model", str(model_dir), *argv]) == 1, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err


def test_standard_input_is_read_as_utf8_and_a_model_folder_missing_a_file_is_named(model_dir, tmp_path, capsys,
                                                                                   monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("ez hatim û çûm".encode("latin-1"))))
    assert synthesize.main(["--model", str(model_dir), "--output", str(tmp_path / "a.wav")]) == 1
    assert "standard input is not UTF-8 text" in capsys.readouterr().err and not (tmp_path / "a.wav").exists()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\ufeffez hatim".encode("utf-8"))))  # a mark first
    assert synthesize.main(["--model", str(model_dir), "--normalize_only"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ez hatim"
    for lost in ("vocab.json", "model.safetensors"):
        copy = tmp_path / f"without-{lost}"
        shutil.copytree(model_dir, copy)
        (copy / lost).unlink()
        assert synthesize.main(["--model", str(copy), "--text", "ez", "--output", str(tmp_path / "b.wav")]) == 1
        err = capsys.readouterr().err.strip()
        assert f"{copy} has no {'vocab.json' if lost == 'vocab.json' else 'weights'}" in err and len(err.splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder_is_a_one_line_error(model_dir, tmp_path, capsys):
    (tmp_path / "locked").mkdir(mode=0o555)
    try:
        assert synthesize.main(["--model", str(model_dir), "--export_onnx", str(tmp_path / "locked" / "onnx")]) == 1
    finally:
        (tmp_path / "locked").chmod(0o755)
    err = capsys.readouterr().err.strip()
    assert "Permission denied" in err and len(err.splitlines()) == 1


def test_noise_scales_default_to_the_models_config(model_dir, tmp_path):
    quiet = tmp_path / "quiet"
    shutil.copytree(model_dir, quiet)
    config = json.loads((quiet / "config.json").read_text())
    (quiet / "config.json").write_text(json.dumps(config | {"noise_scale": 0.0, "noise_scale_duration": 0.0}))
    voice = Voice(quiet)
    assert voice.scales(Settings()) == (0.0, 0.0, 1.0)
    first, second = (voice.speak("ez ji te hez dikim", Settings(seed=seed)) for seed in (1, 2))
    assert np.array_equal(first, second)  # no noise from the config: the seed changes nothing
    noisy = [voice.speak("ez ji te hez dikim", Settings(seed=seed, noise_scale=0.667)) for seed in (1, 2)]
    assert not np.array_equal(*noisy)  # a setting given wins over the config
    for name, seed in (("a.wav", "1"), ("b.wav", "2")):
        assert synthesize.main(["--model", str(quiet), "--text", "ez ji te hez dikim", "--seed", seed,
                                "--output", str(tmp_path / name)]) == 0
    assert np.array_equal(sf.read(tmp_path / "a.wav")[0], sf.read(tmp_path / "b.wav")[0])


def test_the_synthesis_engine_without_noise_is_the_transformers_forward(model_dir):
    import torch
    from transformers import VitsModel, VitsTokenizer

    model, tokenizer = VitsModel.from_pretrained(model_dir).eval(), VitsTokenizer.from_pretrained(model_dir)
    model.noise_scale = model.noise_scale_duration = 0.0
    for text in ("ez ji te hez dikim", "rojbaş"):
        with torch.no_grad():
            reference = model(**tokenizer(text, return_tensors="pt")).waveform[0].numpy()
        ours = Voice.from_model(model, tokenizer).speak(text, Settings(noise_scale=0.0, noise_scale_duration=0.0))
        assert ours.shape == reference.shape
        np.testing.assert_allclose(ours, reference, atol=1e-5)


def test_the_device_is_chosen_or_refused(model_dir, tmp_path, capsys):
    import torch

    assert synthesize.main(["--model", str(model_dir), "--text", "ez im", "--device", "auto", "--seed", "1",
                            "--output", str(tmp_path / "auto.wav")]) == 0
    assert synthesize.main(["--model", str(model_dir), "--text", "ez im", "--device", "cpu", "--seed", "1",
                            "--output", str(tmp_path / "cpu.wav")]) == 0
    if not torch.cuda.is_available():
        assert np.array_equal(sf.read(tmp_path / "auto.wav")[0], sf.read(tmp_path / "cpu.wav")[0])
        with pytest.raises(SystemExit) as exit_:
            synthesize.main(["--model", str(model_dir), "--text", "ez im", "--device", "cuda"])
        assert exit_.value.code == 2 and "--device cuda: no CUDA GPU here" in capsys.readouterr().err
