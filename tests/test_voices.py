"""Several voices in one model: three-column metadata, prepare_data.py --voices, a one-voice model
made multi-voice by train_vits.py, and the voice chosen by name in synthesize.py, serve.py and a
feedback round."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import ROOT, args_for, random_model, recording
from serving import Server

import prepare_data
import synthesize
import train_feedback
import train_vits
from kurdish_tts.corpus.metadata import Clip, MetadataError, read_metadata, voices_of, write_metadata
from kurdish_tts.samples.commonvoice import default_rows, write_release
from kurdish_tts.samples.folders import write_data

VOICES = ("rojda", "azad", "hevi")


def test_metadata_names_voices_in_a_middle_column_and_a_file_is_one_form_or_the_other(tmp_path):
    clips = [Clip("a.wav", "ez ji te hez dikim", "rojda"), Clip("b.wav", "av sar e", "cv-3fa2b1c0")]
    write_metadata(tmp_path / "m.csv", clips)
    assert (tmp_path / "m.csv").read_text(encoding="utf-8") == "a.wav|rojda|ez ji te hez dikim\nb.wav|cv-3fa2b1c0|av sar e\n"
    assert read_metadata(tmp_path / "m.csv") == clips and voices_of(clips) == ["cv-3fa2b1c0", "rojda"]
    write_metadata(tmp_path / "one.csv", [Clip("a.wav", "av sar e")])  # one-voice data keeps two columns
    assert (tmp_path / "one.csv").read_text(encoding="utf-8") == "a.wav|av sar e\n"
    with pytest.raises(MetadataError, match="some clips name a voice and some do not"):
        write_metadata(tmp_path / "x.csv", [Clip("a.wav", "av", "rojda"), Clip("b.wav", "av")])
    (tmp_path / "mixed.csv").write_text("a.wav|av sar e\nb.wav|rojda|av sar e\n", encoding="utf-8")
    with pytest.raises(MetadataError, match=r"line 1 has no voice .* line 2 names one"):
        read_metadata(tmp_path / "mixed.csv")
    for line, problem in (("a.wav|ro jda|av\n", "voice name 'ro jda' must be"), ("a.wav|x|y|z\n", "expected")):
        (tmp_path / "bad.csv").write_text(line, encoding="utf-8")
        with pytest.raises(MetadataError, match=problem):
            read_metadata(tmp_path / "bad.csv")


def test_prepare_data_keeps_people_apart_as_named_voices(tmp_path, capsys):
    rows = default_rows(12) + [dict(default_rows(1)[0], client_id="c" * 64, sentence="Av sar e.")] * 2
    rows = [dict(row, path=f"common_voice_kmr_{i}.mp3") for i, row in enumerate(rows)]
    out = tmp_path / "out"
    assert prepare_data.main(["--dataset", str(write_release(tmp_path / "cv", rows)), "--output_dir", str(out),
                              "--top_speakers", "3", "--voices", "--min_clips_per_voice", "3", "--min_duration", "0.5",
                              "--num_workers", "1"]) == 0
    train, held = read_metadata(out / "metadata.csv"), read_metadata(out / "metadata_eval.csv")
    record = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    voices = record["voices"]
    assert set(voices) == set(voices_of(train)) == set(voices_of(held)) and len(voices) == 2  # each held out too
    assert all(name.startswith("cv-") and len(name) == 11 and "a" * 8 not in name for name in voices)
    dropped = record["counts"]["dropped"]
    assert sorted(row["clips"] for row in voices.values()) == [4, 8 - dropped.get("audio too short for its text", 0)]
    assert {row["gender"] for row in voices.values()} == {"female_feminine", "male_masculine"}
    assert sum(row["train"] for row in voices.values()) == len(train)
    assert dropped["too few clips for a voice"] == 2  # "c" has 2 clips: counted, not kept
    assert "2 voices: cv-" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        prepare_data.main(["--dataset", str(tmp_path / "cv"), "--voices"])  # whose voices? refused
    assert "--voices keeps several people apart" in capsys.readouterr().err


def test_a_one_voice_model_becomes_multi_voice_speaking_as_before_then_each_voice_learns_its_own(tmp_path, capsys):
    from transformers import VitsModel, VitsTokenizer

    from kurdish_tts.vits.voices import with_voices

    base = random_model(tmp_path / "base", seed=3)
    model = VitsModel.from_pretrained(base).eval()
    ids = VitsTokenizer.from_pretrained(base)("ez ji te hez dikim", return_tensors="pt")
    torch.manual_seed(0)
    before = model(**ids).waveform
    voiced, added = with_voices(model, list(VOICES))
    assert added == list(VOICES) and voiced.config.voices == list(VOICES)
    assert voiced.config.num_speakers == 3 and voiced.embed_speaker.weight.shape[0] == 3
    voiced.eval()
    for speaker in range(3):
        torch.manual_seed(0)
        assert torch.equal(voiced(**ids, speaker_id=speaker).waveform, before)  # step 0: each voice is the model
    # every voice layer, in the flow and the duration predictor too, learns at the acoustic rate
    from types import SimpleNamespace

    from kurdish_tts.training.run import generator_groups
    from kurdish_tts.vits.voices import conditioning_layers
    rates = SimpleNamespace(learning_rate=1e-4, acoustic_learning_rate=None, prior_learning_rate=None,
                            discriminator_learning_rate=None, init_config=None)
    groups = {group["part"]: {id(p) for p in group["params"]} for group in generator_groups(voiced, rates)}
    voice_layers = {id(p) for layer in conditioning_layers(voiced) for p in layer.parameters()}
    assert voice_layers <= groups["acoustic"] and id(voiced.embed_speaker.weight) in groups["acoustic"]
    assert not voice_layers & groups["prior"] and groups["prior"]
    more, added = with_voices(voiced, [*VOICES, "welat"])  # a voice added to a model that has voices
    table = voiced.embed_speaker.weight
    assert added == ["welat"] and torch.equal(more.embed_speaker.weight[:3], table)
    assert torch.allclose(more.embed_speaker.weight[3], table.mean(dim=0))  # the model's average voice

    data = write_data(tmp_path / "data", voices=VOICES)
    argv = args_for(data, tmp_path / "run", "--max_steps", 4, "--discriminator_warmup_steps", 0, "--eval_steps", 4)
    argv[argv.index("--init_config"):argv.index("--init_config") + 2] = ["--model_name_or_path", str(base)]
    assert train_vits.main(argv) == 0
    out = capsys.readouterr().out
    assert f"voices added to the model: {', '.join(sorted(VOICES))}" in out
    trained = VitsModel.from_pretrained(tmp_path / "run" / "model").eval()
    assert trained.config.voices == sorted(VOICES) and trained.config.num_speakers == 3  # ids in the names' order
    spoken = []
    for speaker in range(3):
        torch.manual_seed(0)
        spoken.append(trained(**ids, speaker_id=speaker).waveform)
    assert not torch.equal(spoken[0], spoken[1]) and not torch.equal(spoken[1], spoken[2])  # three voices now
    for voice in VOICES:  # samples and held-out scores per voice
        assert len(list((tmp_path / "run" / "model-runs" / "samples" / "step-4" / voice).glob("*.wav"))) == 3
    card = (tmp_path / "run" / "model" / "README.md").read_text(encoding="utf-8")
    assert "| 0 | azad |" in card and "| 2 | rojda |" in card

    # resuming with another list of voices is refused; so is --voice with data that names voices
    rename = read_metadata(data / "metadata.csv")
    write_metadata(data / "metadata.csv", [Clip(c.file, c.text, "welat" if c.voice == "hevi" else c.voice)
                                           for c in rename])
    resume = [*argv, "--resume"]
    resume[resume.index("--max_steps") + 1] = "6"
    assert train_vits.main(resume) == 1
    assert "the voices azad rojda welat (the checkpoint: azad hevi rojda)" in capsys.readouterr().err
    assert train_vits.main(args_for(data, tmp_path / "again", "--max_steps", 1, "--voice", "azad")) == 1
    assert "the data names each clip's voice" in capsys.readouterr().err


def test_a_kept_prior_still_trains_each_voices_layers_and_auto_lets_voices_learn_it(tmp_path):
    from types import SimpleNamespace

    from transformers import VitsModel

    from kurdish_tts.training import prior
    from kurdish_tts.vits.voices import conditioning_layers, with_voices

    voiced, _ = with_voices(VitsModel.from_pretrained(random_model(tmp_path / "base", seed=3)), list(VOICES))
    prior.keep_prior(voiced)
    voice_layers = {id(p) for layer in conditioning_layers(voiced) for p in layer.parameters()}
    inside = [p for part in prior.PRIOR_PARTS for p in getattr(voiced, part).parameters()]
    assert any(id(p) in voice_layers for p in inside)  # the flow and duration predictor hold voice layers
    assert all(p.requires_grad == (id(p) in voice_layers) for p in inside)
    assert all(p.requires_grad for p in voiced.decoder.parameters())
    prior.keep_prior(voiced, ["flow"])  # --freeze flow: its voice layers stay frozen too
    assert not any(p.requires_grad for p in voiced.flow.parameters())
    assert any(p.requires_grad for p in voiced.duration_predictor.parameters())
    auto = SimpleNamespace(keep_prior="auto", init_config=None, freeze=[])
    measured = []
    assert prior.decide(auto, list(VOICES), lambda: measured.append(1) or 0.0) == (
        False, "data of several voices: their voices learn in the prior too")
    assert measured == []  # nothing measured: data naming voices learns its prior
    assert prior.decide(auto, [], lambda: 0.5)[0] and not prior.decide(auto, [], lambda: 99.0)[0]


def test_the_voice_is_chosen_by_name_and_an_unknown_one_lists_the_voices(tmp_path, capsys):
    from kurdish_tts.synthesis.voice import Settings, Voice

    folder = voiced_model(tmp_path / "model")
    voice = Voice(folder)
    assert voice.voices == list(VOICES)
    azad = voice.speak("Rojbaş.", Settings(voice="azad", seed=0))
    assert np.array_equal(azad, voice.speak("Rojbaş.", Settings(speaker_id=1, seed=0)))
    assert not np.array_equal(azad, voice.speak("Rojbaş.", Settings(voice="rojda", seed=0)))
    out = tmp_path / "azad.wav"
    assert synthesize.main(["--model", str(folder), "--text", "Rojbaş.", "--voice", "azad", "--seed", "0",
                            "--output", str(out)]) == 0
    assert np.abs(sf.read(out, dtype="float32")[0] - azad).max() < 1e-3
    assert synthesize.main(["--model", str(folder), "--text", "Rojbaş.", "--voice", "welat", "--output", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: voice 'welat': this model's voices are rojda, azad, hevi (ids 0-2)"
    assert synthesize.main(["--model", str(ROOT / "data" / "pretrained" / "model"), "--text", "Rojbaş.",
                            "--voice", "azad", "--output", str(out)]) == 1
    assert "this model has one voice" in capsys.readouterr().err


def test_the_service_speaks_the_voice_asked_for_and_lists_each_models_voices(workspace):
    import httpx

    from kurdish_tts.synthesis.voice import Settings, Voice

    folder = voiced_model(workspace / "models" / "kurdish", replace=True)
    expected = {name: Voice(folder).speak("Rojbaş.", Settings(speaking_rate=1.0, voice=name, seed=0))
                for name in VOICES}
    with Server(workspace) as server:
        listing = httpx.get(f"{server.url}/v1/models").json()["data"]
        spoken = {name: httpx.post(f"{server.url}/v1/audio/speech", timeout=60, json={
            "input": "Rojbaş.", "voice": name, "response_format": "wav"}) for name in (*VOICES, "alloy")}
        unknown = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Rojbaş.", "voice": "welat"}, timeout=60)
    assert [row["voices"] for row in listing if row["id"] == "kurdish"] == [list(VOICES)]
    audio = {name: sf.read(io.BytesIO(response.content), dtype="float32")[0] for name, response in spoken.items()}
    for name in VOICES:
        assert np.abs(audio[name] - expected[name]).max() < 1e-3, name
    assert np.array_equal(audio["alloy"], audio["rojda"])  # OpenAI's own names: the first voice
    assert unknown.status_code == 422 and "rojda, azad, hevi" in unknown.json()["error"]["message"]


def test_a_correction_names_its_voice_and_the_round_hands_it_to_training_as_that_voice(workspace, tmp_path, monkeypatch, capsys):
    voiced_model(workspace / "models" / "kurdish", replace=True)
    data = write_data(workspace / "training")  # one-voice base data: it trains as the round's voice
    feedback = ["--data_dir", str(data), "--output_dir", str(workspace / "models" / "kurdish")]
    clip = recording(tmp_path, "one.wav", 1)
    assert train_feedback.main([*feedback, "--add_sample", str(clip), "Av sar e.", "--voice", "welat"]) == 1
    err = capsys.readouterr().err
    assert "voice 'welat'" in err and "rojda, azad, hevi" in err
    assert train_feedback.main([*feedback, "--add_sample", str(clip), "Av sar e.", "--voice", "hevi"]) == 0
    assert train_feedback.main([*feedback, "--add_sample", str(recording(tmp_path, "two.wav", 2)), "Rojbaş."]) == 0
    seen = {}

    def capture(args, clips, eval_clips, weights, record):
        seen.update(voice=args.voice, clips={c.text: c.voice for c in clips}, held={c.voice for c in eval_clips})
        raise train_feedback.TrainingError("stopped by the test")

    monkeypatch.setattr(train_feedback, "train", capture)
    assert train_feedback.main([*feedback, "--max_steps", "1", "--voice", "azad"]) == 1
    assert seen["voice"] is None and seen["held"] == {"azad"}
    assert seen["clips"]["av sar e"] == "hevi" and seen["clips"]["rojbaş"] == "azad"  # named, else the round's
    assert seen["clips"]["em ê sibê biçin"] == "azad"  # base clips too


def voiced_model(folder, replace: bool = False):
    """The stand-in with three voices that differ (their conditioning layers random, not zero)."""
    import shutil

    from transformers import VitsModel

    from kurdish_tts.vits.voices import conditioning_layers, with_voices

    source = ROOT / "data" / "pretrained" / "model"
    model, _ = with_voices(VitsModel.from_pretrained(source), list(VOICES))
    torch.manual_seed(0)
    with torch.no_grad():
        model.embed_speaker.weight.normal_(0, 1)
        for layer in conditioning_layers(model):
            weight = layer.parametrizations.weight.original0 if hasattr(layer, "parametrizations") else layer.weight
            weight.normal_(0, 0.05)
    if replace:
        shutil.rmtree(folder)
    model.save_pretrained(folder)
    for name in ("vocab.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy2(source / name, folder / name)
    return folder


def test_the_voices_benchmark_trains_a_multi_voice_model_and_tables_each_voice_against_each_speaker(tmp_path):
    import subprocess
    import sys

    output = tmp_path / "voices.json"
    argv = [sys.executable, str(ROOT / "bench" / "bench_voices.py"), "--speakers", "hevi", "baran", "--clips", "4",
            "--steps", "2", "--batch_size", "2", "--sentences", "1", "--runs", "multi", "--min_dnsmos", "0",
            "--work", str(tmp_path / "work"), "--output", str(output)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(output.read_text(encoding="utf-8"))
    assert set(results["scores"]) == {"stand-in", "multi", "speakers (clean)"}
    assert set(results["scores"]["multi"]) == {"hevi", "baran"} and len(set(results["voices"].values())) == 2
    table = results["distinctness"]["multi"]
    assert set(table) == {"hevi", "baran"} and all(set(row) == {"hevi", "baran"} and min(row.values()) > 0
                                                   for row in table.values())
    assert results["diagonal"]["multi"] == all(min(row, key=row.get) == name for name, row in table.items())
    model = tmp_path / "work" / "multi" / "model"
    assert json.loads((model / "config.json").read_text())["voices"] == sorted(results["voices"].values())
    assert "| multi | hevi |" in done.stdout


def test_one_named_voice_cannot_make_a_multi_voice_model_and_numbers_are_ids(tmp_path, capsys):
    from types import SimpleNamespace

    from kurdish_tts.vits.voices import voice_id

    data = write_data(tmp_path / "data", voices=("rojda",))
    assert train_vits.main(args_for(data, tmp_path / "run", "--max_steps", 1)) == 1
    assert "the data names one voice (rojda)" in capsys.readouterr().err
    base = random_model(tmp_path / "base", seed=3)
    argv = args_for(data, tmp_path / "run2", "--max_steps", 1)
    argv[argv.index("--init_config"):argv.index("--init_config") + 2] = ["--model_name_or_path", str(base)]
    assert train_vits.main(argv) == 1
    assert "needs two or more" in capsys.readouterr().err
    digits = SimpleNamespace(num_speakers=3, voices=["19", "2", "3"])  # names that are digits, sorted as text
    assert [voice_id(digits, 2), voice_id(digits, "2"), voice_id(digits, "19")] == [2, 1, 0]
