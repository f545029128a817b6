"""Evaluation measures on known signals, and synthesize.py --evaluate on two tiny models."""

import json
import math
import resource
import tracemalloc

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import random_model

import synthesize
from kurdish_tts.corpus.metadata import Clip, write_metadata
from kurdish_tts.samples.signals import speech_like
from kurdish_tts.scoring import measures
from kurdish_tts.scoring.measures import (
    MCD_SCALE,
    N_CEPSTRA,
    character_error_rate,
    duration_ratio,
    frame_distances,
    mcd_dtw,
    mel_cepstra,
    score_model,
)
from kurdish_tts.synthesis.voice import Settings, Voice


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


def cube_mcd(reference, synthesized, rate):
    """MCD-DTW with the frame distances taken over the whole [frames, frames, coefficients] array."""
    ref, syn = mel_cepstra(reference, rate), mel_cepstra(synthesized, rate)
    cost = np.sqrt(((ref[:, None, :] - syn[None, :, :]) ** 2).sum(-1))
    _, path = librosa.sequence.dtw(C=cost)
    return float(MCD_SCALE * np.mean(cost[path[:, 0], path[:, 1]]))


def test_frame_distances_and_mcd_equal_the_direct_computation():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((37, N_CEPSTRA)), rng.standard_normal((52, N_CEPSTRA))
    np.testing.assert_allclose(frame_distances(a, b), np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)), rtol=1e-6)
    assert frame_distances(a, a).diagonal().max() == 0
    clip, other = speech_like(1.5, seed=1), speech_like(1.2, seed=2, pitch=220.0)
    assert mcd_dtw(clip, other, 16000) == pytest.approx(cube_mcd(clip, other, 16000), rel=1e-5)


def test_mcd_of_long_clips_builds_no_frames_by_frames_by_coefficients_array():
    a, b = speech_like(20.0, seed=1), speech_like(20.0, seed=2, pitch=220.0)
    frames = len(mel_cepstra(a, 16000))
    cube = frames * frames * N_CEPSTRA * 4  # float32, 1.6 GB
    tracemalloc.start()
    try:
        value = mcd_dtw(a, b, 16000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert math.isfinite(value) and value > 0
    assert peak < cube / 3  # the DTW's own [frames, frames] matrices, not the cube


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
def second_model(model_dir, tmp_path):
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


def eval_set(folder, texts=("ez ji te hez dikim", "rojbaş tu çawa yî", "av sar e")):
    """training/metadata_eval.csv in `folder`, one speech-like recording a text; returns the metadata path."""
    (folder / "wavs").mkdir(parents=True)
    clips = []
    for i, text in enumerate(texts):
        sf.write(folder / "wavs" / f"e{i}.wav", speech_like(1.5, seed=i), 16000, subtype="PCM_16")
        clips.append(Clip(f"e{i}.wav", text))
    write_metadata(folder / "metadata_eval.csv", clips)
    return folder / "metadata_eval.csv"


def test_evaluate_two_models_writes_table_report_and_picture(model_dir, second_model, tmp_path, capsys):
    metadata = eval_set(tmp_path / "training")
    report = tmp_path / "out" / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--model", str(second_model), "--metadata",
                            str(metadata), "--report", str(report), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "MCD-DTW" in out and str(second_model)[-40:] in out
    data = json.loads(report.read_text())
    assert set(data["summary"]) == {str(model_dir), str(second_model)}
    assert len(data["clips"]) == 6 and all(c["mcd_dtw"] > 0 and c["duration_ratio"] > 0 for c in data["clips"])
    assert report.with_suffix(".png").stat().st_size > 10_000
    # DNSMOS of every synthesis, and of the recordings as the reference row the table prints first
    assert all(1 <= c[f"dnsmos_{name}"] <= 5 for c in data["clips"] for name in ("ovrl", "sig", "bak", "p808"))
    recordings = data["recordings"]
    assert [c["clip"] for c in recordings["clips"]] == ["e0.wav", "e1.wav", "e2.wav"]
    assert all(c["mcd_dtw"] is None and 1 <= c["dnsmos_ovrl"] <= 5 for c in recordings["clips"])
    for model in (model_dir, second_model):  # random weights buzz (about 1.1) below speech-like tones (about 2.4)
        assert data["summary"][str(model)]["dnsmos_ovrl_mean"] < recordings["summary"]["dnsmos_ovrl_mean"] - 0.5
    header, reference, *rows = out.splitlines()[:4]
    assert header.split()[-2:] == ["CER", "DNSMOS"]
    assert reference.startswith("recordings (reference)")
    assert reference.split()[-1] == f"{recordings['summary']['dnsmos_ovrl_mean']:.2f}"
    assert rows[0].split()[-1] == f"{data['summary'][str(model_dir)]['dnsmos_ovrl_mean']:.2f}"
    assert "(recorded as Common Voice records, 2.55-2.85); below about 2.2 it cannot rank voices" in out


VOICE_ARGS = ["--speaking_rate", "2.0", "--noise_scale", "0.3", "--noise_scale_duration", "0.2", "--seed", "7",
              "--batch_size", "2"]


def test_evaluation_speaks_with_the_voice_settings_given(model_dir, tmp_path, monkeypatch):
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim. rojbaş tu çawa yî", "av sar e"])
    heard = []
    speak = Voice.speak
    monkeypatch.setattr(Voice, "speak", lambda self, text, settings=None: heard.append(settings) or speak(self, text, settings))
    assert synthesize.main(["--model", str(model_dir), "--text", "ez", "--output", str(tmp_path / "x.wav"), *VOICE_ARGS]) == 0
    spoken = heard.pop()  # what plain synthesis speaks with
    assert spoken == Settings(2.0, 0.3, 0.2, None, 7, 2)

    def evaluate(name, *args):
        assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                                "--report", str(tmp_path / name), *args]) == 0
        return json.loads((tmp_path / name).read_text())["summary"][str(model_dir)]

    plain = evaluate("plain.json")
    assert heard and all(settings == Settings(seed=0) for settings in heard)
    heard.clear()
    given = evaluate("given.json", *VOICE_ARGS)
    assert heard and all(settings == spoken for settings in heard)  # the clips and the picture
    assert given["duration_ratio_mean"] < 0.7 * plain["duration_ratio_mean"]  # spoken twice as fast


def test_evaluation_honours_the_speaker(tmp_path):
    folder = random_model(tmp_path / "model", num_speakers=3, speaker_embedding_size=8)
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim"])
    mcds = []
    for speaker in ("0", "2"):
        report = tmp_path / f"{speaker}.json"
        assert synthesize.main(["--evaluate", "--model", str(folder), "--metadata", str(metadata), "--report", str(report),
                                "--speaker_id", speaker, "--noise_scale", "0", "--noise_scale_duration", "0"]) == 0
        mcds.append(json.loads(report.read_text())["clips"][0]["mcd_dtw"])
    assert mcds[0] != mcds[1]
    quiet = Settings(speaker_id=2, noise_scale=0, noise_scale_duration=0)
    direct = score_model(Voice(folder), "m", metadata.parent, [Clip("e0.wav", "ez ji te hez dikim")], settings=quiet)
    assert mcds[1] == pytest.approx(direct[0].mcd_dtw)  # speaker 2's voice, not merely another one


@pytest.mark.parametrize("argv, message", [
    (["--evaluate", "--text", "ez"], "--text does not combine with --evaluate"),
    (["--evaluate", "--text_file", "lines.txt", "--output", "spoken"], "--text_file, --output do not combine with --evaluate"),
    (["--evaluate", "--output", "output.wav"], "--output does not combine with --evaluate"),
    (["--evaluate", "--export_onnx", "onnx", "--quantize"], "--export_onnx, --quantize do not combine with --evaluate"),
    (["--export_onnx", "onnx", "--seed", "1", "--speaker_id", "0"], "--speaker_id, --seed do not combine with --export_onnx"),
    (["--export_onnx", "onnx", "--text", "ez", "--output", "x.wav"], "--text, --output do not combine with --export_onnx"),
    (["--export_onnx", "onnx", "--report", "r.json"], "--report does not combine with --export_onnx"),
    (["--text", "ez", "--metadata", "m.csv", "--max_clips", "2"], "--metadata, --max_clips do not combine with plain"),
    (["--report", "r.json"], "--report does not combine with plain synthesis: evaluation options apply only with --evaluate"),
    (["--export_onnx", "onnx", "--asr_model", "asr"], "--asr_model does not combine with --export_onnx"),
])
def test_options_of_another_mode_are_refused(model_dir, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        synthesize.main(["--model", str(model_dir), *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing ran


def test_evaluation_errors(model_dir, tmp_path, capsys):
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(tmp_path / "none.csv")]) == 1
    assert f"{tmp_path / 'none.csv'}" in capsys.readouterr().err
    metadata = eval_set(tmp_path / "data")
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                            "--asr_model", str(tmp_path / "no_asr")]) == 1
    err = capsys.readouterr().err
    assert "--asr_model" in err and str(tmp_path / "no_asr") in err
    (tmp_path / "empty").mkdir()
    for folder in (model_dir, tmp_path / "empty"):  # a text-to-speech model, a folder without a model
        assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                                "--asr_model", str(folder), "--report", str(tmp_path / "r.json")]) == 1
        err = capsys.readouterr().err.strip()
        assert f"--asr_model {folder} is not a speech-recognition model" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r.json").exists()
    with pytest.raises(SystemExit) as exit_info:
        synthesize.main(["--model", "a", "--model", "b", "--text", "ez"])
    assert exit_info.value.code == 2 and "several --model only with --evaluate" in capsys.readouterr().err


def no_clips(metadata):
    metadata.write_text("\n", encoding="utf-8")


def missing_wav(metadata):
    (metadata.parent / "wavs" / "e1.wav").unlink()


def unreadable_wav(metadata):
    (metadata.parent / "wavs" / "e2.wav").write_bytes(b"not a wav")


def unsayable_text(metadata):
    metadata.write_text("e0.wav|ez ji te hez dikim\ne1.wav|?! …\n", encoding="utf-8")


def empty_text(metadata):
    metadata.write_text("e0.wav|ez ji te hez dikim\ne1.wav|\n", encoding="utf-8")


def outside_wavs(metadata):  # readable recordings, but not inside wavs/
    sf.write(metadata.parent / "x.wav", speech_like(1.5, seed=5), 16000, subtype="PCM_16")
    metadata.write_text("e0.wav|ez ji te hez dikim\n../x.wav|av sar e\n", encoding="utf-8")


def absolute_name(metadata):
    sf.write(metadata.parent / "x.wav", speech_like(1.5, seed=5), 16000, subtype="PCM_16")
    metadata.write_text(f"{metadata.parent / 'x.wav'}|av sar e\n", encoding="utf-8")


@pytest.mark.parametrize("spoil, argv, message", [
    (no_clips, [], "metadata_eval.csv lists no clips: pass --metadata a file of '<id>.wav|text' lines"),
    (missing_wav, [], "metadata_eval.csv: 1 recording missing from"),
    (unreadable_wav, [], "metadata_eval.csv: 1 recording unreadable in"),
    (unsayable_text, [], "the text of e1.wav ('?! …') has nothing model"),
    (empty_text, [], "the text of e1.wav ('') has nothing model"),
    (outside_wavs, [], "metadata_eval.csv: 1 recording not named as a bare .wav file inside"),
    (absolute_name, [], "x.wav (name each recording as <id>.wav, without a folder, or remove its line)"),
    (None, ["--speaker_id", "1"], "voice '1': this model has one voice"),
])
def test_evaluation_set_errors_are_one_line(model_dir, tmp_path, capsys, spoil, argv, message):
    metadata = eval_set(tmp_path / "training")
    if spoil:
        spoil(metadata)
    report = tmp_path / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                            "--report", str(report), *argv]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not report.exists()


def tiny_recognizer(folder):
    """A random, tiny wav2vec2 CTC model with a Kurmanji character vocabulary, saved as a local folder."""
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

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


@pytest.mark.parametrize("rate", [16000, 22050])  # the recogniser wants 16 kHz: other rates are resampled for it
def test_asr_model_gives_a_character_error_rate(model_dir, tmp_path, rate):
    data = tmp_path / "training"
    (data / "wavs").mkdir(parents=True)
    sf.write(data / "wavs" / "e0.wav", speech_like(1.5, rate, seed=0), rate, subtype="PCM_16")
    write_metadata(data / "metadata_eval.csv", [Clip("e0.wav", "ez ji te hez dikim")])
    report = tmp_path / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(data / "metadata_eval.csv"),
                            "--asr_model", str(tiny_recognizer(tmp_path / "asr")), "--report", str(report)]) == 0
    scores = json.loads(report.read_text())
    cer = scores["clips"][0]["cer"]
    assert cer is not None and cer > 0  # a random recogniser cannot transcribe it
    assert scores["summary"][str(model_dir)]["cer_mean"] == pytest.approx(cer)


def test_plain_synthesis_says_what_the_recogniser_hears(model_dir, tmp_path, capsys):
    out, recognizer = tmp_path / "hello.wav", str(tiny_recognizer(tmp_path / "asr"))
    assert synthesize.main(["--model", str(model_dir), "--text", "Ez 25 salî me.", "--output", str(out),
                            "--asr_model", recognizer]) == 0
    printed = capsys.readouterr().out.splitlines()
    line = next(x for x in printed if "the recogniser heard" in x)
    assert not any(x.startswith("over the") for x in printed)  # one utterance: no mean
    assert line.startswith(str(out)) and "CER" in line and "against 'ez bîst û pênc salî me'" in line
    from kurdish_tts.scoring.measures import naturalness

    written, rate = sf.read(out, dtype="float32")
    ovrl = float(line.split("DNSMOS OVRL ")[1].split()[0])  # scored on the audio spoken, as it was written
    assert ovrl == pytest.approx(naturalness(written, rate)["dnsmos_ovrl"], abs=0.02)

    lines = tmp_path / "lines.txt"
    lines.write_text("Ez 25 salî me.\nHûn çima dimeşin?\nEw îşev mast û nan dixwin.\n", encoding="utf-8")
    assert synthesize.main(["--model", str(model_dir), "--text_file", str(lines), "--output", str(tmp_path / "many"),
                            "--asr_model", recognizer]) == 0
    out = capsys.readouterr().out.splitlines()
    each = [x for x in out if "the recogniser heard" in x]
    cers = [float(x.split("(CER ")[1].split("%")[0]) for x in each]
    ovrls = [float(x.split("DNSMOS OVRL ")[1].split()[0]) for x in each]
    mean = next(x for x in out if x.startswith("over the 3 utterances, the mean: CER "))
    assert len(each) == 3 and float(mean.split("CER ")[1].split("%")[0]) == pytest.approx(np.mean(cers), abs=0.6)  # each to 1 %
    assert float(mean.split("DNSMOS OVRL ")[1]) == pytest.approx(np.mean(ovrls), abs=0.011)  # each printed to 0.01
    assert synthesize.main(["--model", str(model_dir), "--text", "ez", "--output", str(tmp_path / "x.wav"),
                            "--asr_model", str(model_dir)]) == 1
    assert "is not a speech-recognition model" in capsys.readouterr().err
    assert not (tmp_path / "x.wav").exists()


def test_an_empty_recording_is_refused_before_synthesis(model_dir, tmp_path, capsys, monkeypatch):
    from kurdish_tts.synthesis.voice import Voice

    monkeypatch.setattr(Voice, "speak", lambda *args, **kwargs: pytest.fail("spoke before the recordings were checked"))
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim"])
    sf.write(metadata.parent / "wavs" / "e0.wav", np.zeros(0, np.float32), 16000, subtype="PCM_16")
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                            "--report", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "1 recording unreadable in" in err and "e0.wav" in err and len(err.splitlines()) == 1


def test_a_stereo_recording_is_scored_as_its_downmix(model_dir, tmp_path):
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim"])
    wavs, voice = metadata.parent / "wavs", speech_like(1.5, seed=0)
    sf.write(wavs / "e0.wav", np.stack([voice, 0.5 * voice], axis=1), 16000, subtype="PCM_16")
    sf.write(wavs / "mono.wav", 0.75 * voice, 16000, subtype="PCM_16")
    report = tmp_path / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                            "--report", str(report)]) == 0
    stereo = json.loads(report.read_text())["clips"][0]
    mono = score_model(Voice(model_dir), "mono", metadata.parent, [Clip("mono.wav", "ez ji te hez dikim")])[0]
    assert stereo["mcd_dtw"] == pytest.approx(mono.mcd_dtw, rel=1e-3)
    assert stereo["duration_ratio"] == pytest.approx(mono.duration_ratio, rel=1e-3)


def test_score_model_is_deterministic_without_a_seed(model_dir, tmp_path):
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim", "av sar e"])
    clips, voice = [Clip("e0.wav", "ez ji te hez dikim"), Clip("e1.wav", "av sar e")], Voice(model_dir)
    runs = [score_model(voice, "m", metadata.parent, clips, settings=settings)
            for settings in (Settings(), Settings(), Settings(seed=0), None)]
    assert runs[0] == runs[1] == runs[2] == runs[3]
    assert all(s.dnsmos_ovrl is None for s in runs[0])  # only when asked for (the install check does not)
    assert runs[0] != score_model(voice, "m", metadata.parent, clips, settings=Settings(seed=1))


def test_the_picture_draws_every_signal_at_the_recording_rate(model_dir, tmp_path, monkeypatch):
    data = tmp_path / "training"
    (data / "wavs").mkdir(parents=True)
    sf.write(data / "wavs" / "e0.wav", speech_like(1.5, rate=22050), 22050, subtype="PCM_16")
    write_metadata(data / "metadata_eval.csv", [Clip("e0.wav", "ez ji te hez dikim")])
    drawn, plot = {}, measures.plot_report
    monkeypatch.setattr(measures, "plot_report", lambda scores, recording, syntheses, rate, *rest:
                        drawn.update(syntheses=dict(syntheses), rate=rate) or plot(scores, recording, syntheses, rate, *rest))
    report = tmp_path / "report.json"
    assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(data / "metadata_eval.csv"),
                            "--report", str(report)]) == 0
    spoken = Voice(model_dir).speak("ez ji te hez dikim", Settings(seed=0))  # at the model's 16 kHz
    assert drawn["rate"] == 22050
    assert len(drawn["syntheses"][str(model_dir)]) == pytest.approx(len(spoken) * 22050 / 16000, abs=2)
    assert report.with_suffix(".png").stat().st_size > 10_000


def test_report_pointing_at_a_folder_is_a_one_line_error(model_dir, tmp_path, capsys):
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim"])
    (tmp_path / "out").mkdir()
    (tmp_path / "r.png").mkdir()
    for report, message in ((tmp_path / "out", f"--report {tmp_path / 'out'} is a folder: pass a file name such as"),
                            (tmp_path / "r.json", f"the picture goes to {tmp_path / 'r.png'}, which is a folder"),
                            (tmp_path / "p.png", "names the picture's file: the JSON report needs its own name")):
        assert synthesize.main(["--evaluate", "--model", str(model_dir), "--metadata", str(metadata),
                                "--report", str(report)]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert list((tmp_path / "out").iterdir()) == [] and not (tmp_path / "r.json").exists()
    assert not (tmp_path / "p.png").exists()


def test_report_files_are_replaced_whole_or_not_at_all(model_dir, tmp_path, capsys):
    metadata = eval_set(tmp_path / "training", ["ez ji te hez dikim"])
    report = tmp_path / "out" / "report.json"
    argv = ["--evaluate", "--model", str(model_dir), "--metadata", str(metadata), "--report", str(report)]
    assert synthesize.main(argv) == 0
    picture, old = report.with_suffix(".png").read_bytes(), report.read_text()
    capsys.readouterr()
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(picture) // 2, limit[1]))  # the disk fills up during the picture
    try:
        code = synthesize.main(argv + ["--seed", "5"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
    err = capsys.readouterr().err.strip()
    assert code == 1 and "error: cannot write the report" in err and len(err.splitlines()) == 1
    assert report.with_suffix(".png").read_bytes() == picture  # the old picture, whole
    assert report.read_text() != old and json.loads(report.read_text())["clips"]  # the new report, whole
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.json", "report.png"]  # no temporary left
