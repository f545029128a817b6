"""The project's own pretrained voice (data/pretrained/), its judge (data/judge/) and the sentence list
that keeps apart what each of them heard."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch
from helpers import ROOT, load_script, weights

import train_vits
from kurdish_tts.corpus.metadata import read_metadata, voices_of
from kurdish_tts.samples.espeak import speak_clean, write_folder
from kurdish_tts.samples.folders import spoken_text, write_data
from kurdish_tts.samples.sentences import GROUP_SIZES, read_sentences
from kurdish_tts.scoring.measures import Recognizer, character_error_rate
from kurdish_tts.scoring.references import buzz_like, noise_like
from kurdish_tts.text.vocabulary import MMS_KURMANJI_VOCAB
from kurdish_tts.vits.voices import folder_voices

PRETRAINED = ROOT / "data" / "pretrained"
JUDGE = ROOT / "data" / "judge"
# heldout_0000 of data/corpus/sentences.tsv spoken by espeak-ng's ku, as data/speak.py cleans it
HELDOUT_CLIP = ROOT / "tests" / "data" / "heldout_0000_ku.wav"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed "
                                  "(apt-get install espeak-ng; .ci/run installs it)")


def test_the_standin_loads_as_fp32_and_speaks_through_pipeline():
    from transformers import VitsModel, pipeline

    model = VitsModel.from_pretrained(PRETRAINED / "model")
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # stored in fp16, loaded as fp32
    assert model.config.use_stochastic_duration_prediction and model.config.sampling_rate == 16000
    vocab = json.loads((PRETRAINED / "model" / "vocab.json").read_text(encoding="utf-8"))
    assert vocab == MMS_KURMANJI_VOCAB  # MMS's ids, "n" at 0 as the blank
    speech = pipeline("text-to-speech", model=str(PRETRAINED / "model"))("ez ji te hez dikim")
    audio = np.asarray(speech["audio"]).squeeze()
    assert speech["sampling_rate"] == 16000 and audio.dtype == np.float32 and len(audio) > 0.5 * 16000
    card = (PRETRAINED / "model" / "README.md").read_text(encoding="utf-8")
    assert "espeak-ng" in card and "cc-by-nc" not in card.lower()
    assert sum(p.stat().st_size for p in PRETRAINED.rglob("*") if p.is_file()) < 25e6


def test_finetuning_the_standin_trains_every_part(tmp_path):
    data = write_data(tmp_path / "data", texts=["ez nan dixwim", "tu av vedixwî", "em diçin malê", "ew li gund dijî"],
                      eval_count=0)
    assert train_vits.main(["--data_dir", str(data), "--model_name_or_path", str(PRETRAINED / "model"),
                            "--discriminator", str(PRETRAINED / "discriminator"), "--output_dir", str(tmp_path / "model"),
                            "--checkpoint_dir", str(tmp_path / "ckpt"), "--batch_size", "2",
                            "--gradient_accumulation_steps", "1", "--learning_rate", "1e-3", "--max_steps", "2",
                            "--eval_steps", "100", "--save_steps", "100", "--keep_prior", "no"]) == 0
    before, after = weights(PRETRAINED / "model"), weights(tmp_path / "model")
    assert set(before) == set(after)
    for part in ("text_encoder.", "duration_predictor.", "flow.", "posterior_encoder.", "decoder."):
        names = [k for k in before if k.startswith(part)]
        assert any(not torch.equal(before[k].float(), after[k].float()) for k in names), part


def test_the_judge_hears_espeak_ng_and_not_a_buzz():
    clip, rate = sf.read(HELDOUT_CLIP, dtype="float32")
    text = read_sentences("heldout")[0][1]
    expected = spoken_text(text)
    judge = Recognizer(JUDGE)
    assert character_error_rate(expected, judge(clip, rate)) < 0.15
    # on 20 sentences noise and buzz score about 80 %; on one short one the stray letters weigh more
    assert character_error_rate(expected, judge(buzz_like(clip, rate), rate)) > 0.6
    assert character_error_rate(expected, judge(noise_like(clip, np.random.default_rng(0)), rate)) > 0.6
    scores = json.loads((JUDGE / "scores.json").read_text(encoding="utf-8"))["cer"]
    assert max(v for k, v in scores.items() if k.startswith("judge_test, voice")) < 0.03  # espeak-ng voices
    assert scores["judge_test, natural rojda (learnt)"] < 0.05  # a natural speaker it learnt
    unheard = [v for k, v in scores.items() if "never heard" in k and "natural" in k]
    assert len(unheard) == 4 and max(unheard) < 0.35  # the natural speakers it never heard: far from noise
    assert min(scores["white noise"], scores["harmonic buzz with speech's loudness"]) > 0.75


def test_the_sentence_groups_are_fixed_and_apart():
    sentences = load_script("data/sentences.py")
    assert sentences.main(["--check"]) == 0  # the committed list is the grammar's
    groups = {g: [s for _, s in read_sentences(g)] for g in GROUP_SIZES}
    assert {g: len(s) for g, s in groups.items()} == GROUP_SIZES
    spoken = {g: {s.lower().strip(".?!") for s in v} for g, v in groups.items()}
    names = list(spoken)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not spoken[a] & spoken[b], (a, b)
    assert not set().union(*spoken.values()) & {s.replace(",", "") for s in sentences.demo_sentences()}
    with pytest.raises(ValueError, match="unknown sentence group"):
        read_sentences("train")


@needs_espeak
def test_speak_writes_the_on_disk_contract(tmp_path):
    from kurdish_tts.corpus.metadata import read_metadata

    assert load_script("data/speak.py").main(["--train", "finetune", "--eval", "heldout", "--voice", "ku+m3", "--limit", "3",
                 "--output", str(tmp_path / "d")]) == 0
    train, held = read_metadata(tmp_path / "d" / "metadata.csv"), read_metadata(tmp_path / "d" / "metadata_eval.csv")
    assert len(train) == 3 and len(held) == 20
    record = json.loads((tmp_path / "d" / "dataset.json").read_text(encoding="utf-8"))
    assert record["voice"] == "ku+m3" and record["espeak_ng"]
    audio, rate = sf.read(tmp_path / "d" / "wavs" / train[0].file)
    assert rate == 16000 and audio.ndim == 1 and 0.5 < len(audio) / rate < 15
    assert all(c in MMS_KURMANJI_VOCAB for c in train[0].text)


@needs_espeak
def test_the_committed_heldout_clip_is_what_speak_makes():
    clip, _ = sf.read(HELDOUT_CLIP, dtype="float32")
    made = speak_clean(read_sentences("heldout")[0][1], "ku")
    assert len(made) == len(clip) and np.abs(made - clip).max() < 2e-4  # 16-bit rounding
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    assert json.loads((PRETRAINED / "build.json").read_text())["espeak_ng"] in version


def test_the_standin_build_trains_in_chunks_changes_recipe_at_each_phase_and_resumes(tmp_path, monkeypatch):
    """The orchestration of data/train_standin.py, with the training and the publication recorded
    instead of run: chunks, where each phase starts (a new run from the last weights), resumes."""
    train_standin = load_script("data/train_standin.py")

    calls, published = [], []

    def fake_train(argv):
        calls.append(argv)
        args = dict(zip(argv[::2], argv[1::2]))
        checkpoints, steps = tmp_path / "work" / args["--checkpoint_dir"].split("/")[-1], int(args["--max_steps"])
        (checkpoints / f"checkpoint-{steps}").mkdir(parents=True)
        for name in ("model", "model-discriminator"):
            (tmp_path / "work" / name).mkdir(exist_ok=True)
            (tmp_path / "work" / name / "step").write_text(str(steps))
        return 0

    monkeypatch.setattr(train_standin, "PHASES", [(0, ["--recipe", "a"]), (250, ["--recipe", "b"])])
    monkeypatch.setattr(train_standin, "ESPEAK_PUBLISHED", tmp_path / "published")  # an espeak-ng build's default
    monkeypatch.setattr(train_standin, "write_folder", lambda *a, **k: {"counts": {"metadata.csv": 1}, "hours": 0.1,
                                                                          "source": "espeak-ng"})
    def fake_publish(work, folder, source, steps, seconds):
        published.append((folder.name, steps))
        folder.mkdir(exist_ok=True)
        (folder / "build.json").write_text(json.dumps({"steps": steps, "voice": source.voice}))

    monkeypatch.setattr(train_standin, "publish", fake_publish)
    monkeypatch.setattr(train_vits, "main", fake_train)
    work = ["--work", str(tmp_path / "work"), "--chunk", "100"]
    assert train_standin.main(["--steps", "300", *work]) == 0
    assert published == [("published", n) for n in (100, 200, 250, 300)]
    options = [dict(zip(argv[::2], argv[1::2])) for argv in calls]
    assert [o["--max_steps"] for o in options] == ["100", "200", "250", "50"]  # the last run counts from step 250
    assert [o["--recipe"] for o in options] == ["a", "a", "a", "b"]
    assert ["--resume" in argv for argv in calls] == [False, True, True, False]
    assert "--init_config" in options[0] and options[3]["--model_name_or_path"].endswith("start-250/model")
    start = tmp_path / "work" / "start-250"
    assert (start / "model" / "step").read_text() == "250" and (start / "discriminator" / "step").read_text() == "250"
    calls.clear()
    assert train_standin.main(["--steps", "350", *work]) == 0  # a later session goes on in the second phase
    assert len(calls) == 1 and "--resume" in calls[0] and dict(zip(calls[0][::2], calls[0][1::2]))["--max_steps"] == "100"
    assert published[-1] == ("published", 350)
    calls.clear()
    assert train_standin.main(["--steps", "350", *work]) == 0 and not calls  # trained: nothing to do
    assert published[-1] == ("published", 350) and len(published) == 5
    assert train_standin.main(["--steps", "350", *work, "--publish", str(tmp_path / "elsewhere")]) == 0 and not calls
    assert published[-1] == ("elsewhere", 350)  # a finished build published to a new folder without training


@needs_espeak
def test_the_recipe_grid_trains_scores_each_point_and_resumes(tmp_path):
    # the natural target (hevi's Common Voice records through prepare_data.py), its DNSMOS filter low enough
    # that 4 clips keep 2 to train on; `denoised` trains on data of its own
    argv = [sys.executable, str(ROOT / "bench" / "bench_finetune.py"), "--recipes", "own", "denoised", "rehearsal",
            "--seeds", "1",
            "--steps", "2", "--points", "0", "2", "--clips", "4", "--sentences", "2", "--batch_size", "2",
            "--min_dnsmos", "1.5",
            "--work", str(tmp_path / "work"), "--output", str(tmp_path / "finetune.json"),
            "--picture", str(tmp_path / "finetune.png")]
    first = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    results = json.loads((tmp_path / "finetune.json").read_text())
    assert set(results["runs"]) == {"own/1", "denoised/1", "rehearsal/1"} and results["sentences"] == 2
    rehearsal = tmp_path / "work" / "data-hevi-4-rehearsal" / "data"  # the recordings beside the stand-in's own speech
    assert voices_of(read_metadata(rehearsal / "metadata.csv")) == ["standin", "target"]
    assert folder_voices(tmp_path / "work" / "hevi-rehearsal-seed1-2" / "model") == ["standin", "target"]
    for scores in results["runs"].values():
        assert list(scores) == ["0", "2"] and scores["0"] == results["start"]
        assert all(0 <= scores[p]["cer"] and scores[p]["to_target"] > 0 and 1 <= scores[p]["dnsmos_ovrl"] <= 5
                   for p in scores)
    assert results["runs"]["own/1"]["2"] != results["start"]  # the step-2 checkpoint was scored, not the start
    references, learnt = results["references"], json.loads((PRETRAINED / "build.json").read_text())["voice"]
    assert set(references) == {"hevi clean (the target)", "hevi as Common Voice records it",
                               f"{learnt} (the stand-in's voice)", "white noise", "harmonic buzz"}
    assert references["hevi clean (the target)"]["to_target"] < 0.01  # the target against itself
    assert references["white noise"]["dnsmos_ovrl"] < 1.6 < references["hevi clean (the target)"]["dnsmos_ovrl"]
    prepared = {json.loads((d / "dataset.json").read_text())["arguments"]["denoise"]
                for d in (tmp_path / "work").glob("data-hevi-4-*/data")}
    assert prepared == {"none", "rnnoise"}  # own's data and denoised's, each prepared once
    assert "| denoised | 2 |" in first.stdout and (tmp_path / "finetune.png").stat().st_size > 1000
    made = sorted((tmp_path / "work").glob("*-seed1-2/**/*.safetensors")) + sorted((tmp_path / "work").glob("*/scores.json"))
    stamps = {path: path.stat().st_mtime_ns for path in made}
    second = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    # a second run reuses every run's weights and scores: nothing trained or scored again
    assert len(stamps) > 4 and {path: path.stat().st_mtime_ns for path in made} == stamps
    assert json.loads((tmp_path / "finetune.json").read_text()) == results


@needs_espeak
def test_a_short_fine_tune_of_the_standin_with_the_defaults_keeps_it_speaking(tmp_path, capsys):
    """As a user fine-tunes MMS (no --discriminator: a fresh one, sized from the stand-in's saved
    widths, warmed up for fewer steps than the run; the default learning rate), on clips of a voice
    it never heard: the generator trains, and loudness and the judge's CER stay within bounds.
    (At 1e-4 the same 6 steps raise the CER of the 1,549-step stand-in from 0.47 to 0.63, and to
    0.53 on clips of its own voice: Adam's first steps move every weight by the full rate.)"""
    from kurdish_tts.scoring.measures import loudness_ratio
    from kurdish_tts.synthesis.voice import Settings, Voice

    write_folder(tmp_path / "data", "ku+f3", ["finetune"], [], limit=8)
    assert train_vits.main(["--data_dir", str(tmp_path / "data"), "--model_name_or_path", str(PRETRAINED / "model"),
                            "--output_dir", str(tmp_path / "model"), "--checkpoint_dir", str(tmp_path / "ckpt"),
                            "--batch_size", "4", "--gradient_accumulation_steps", "1",  # the default learning rate
                            "--max_steps", "6", "--discriminator_warmup_steps", "2", "--mixed_precision", "no",
                            "--eval_steps", "100", "--save_steps", "100"]) == 0
    assert f"widths of {PRETRAINED / 'discriminator' / 'discriminator_config.json'}" in capsys.readouterr().out
    before, after = weights(PRETRAINED / "model"), weights(tmp_path / "model")
    assert any(not torch.equal(before[k].float(), after[k].float()) for k in before if k.startswith("decoder."))
    judge = Recognizer(JUDGE)
    heldout = read_sentences("heldout")[:4]
    scores = {}
    for name, folder in (("before", PRETRAINED / "model"), ("after", tmp_path / "model")):
        voice = Voice(folder)
        spoken = [(spoken_text(s), voice.speak(spoken_text(s), Settings(seed=0)), speak_clean(s, "ku")) for _, s in heldout]
        scores[name] = (np.mean([character_error_rate(t, judge(a, 16000)) for t, a, _ in spoken]),
                        np.mean([loudness_ratio(r, a) for _, a, r in spoken]))
    (cer_before, loud_before), (cer_after, loud_after) = scores["before"], scores["after"]
    assert cer_after <= cer_before + 0.1, scores
    assert 0.67 < loud_after / loud_before < 1.5, scores
