"""Natural speakers (Kokoro-82M speaking Kurmanji) and Common Voice recording conditions."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import ROOT

from kurdish_tts.samples import natural
from kurdish_tts.samples.conditions import Conditions, measured_snr, record
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.scoring.measures import Recognizer, character_error_rate, mcd_dtw

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed "
                                "(apt-get install espeak-ng; .ci/run installs it)")
SENTENCE = "Ez bîst û pênc salî me, û ez li Amedê dijîm."


def test_a_natural_speaker_speaks_and_always_the_same():
    voice = natural.speaker("hevi")
    first, second = natural.speak(SENTENCE, voice, 16000), natural.speak(SENTENCE, voice, 16000)
    assert np.array_equal(first, second) and first.dtype == np.float32
    assert 2.0 < len(first) / 16000 < 6.0 and 0.1 < np.abs(first).max() <= 0.95
    judge = Recognizer(ROOT / "data" / "judge")
    assert character_error_rate(spoken_text(SENTENCE), judge(first, 16000)) < 0.3  # the judge hears it


def test_speakers_differ_and_a_voice_without_its_style_is_reshaped_by_world():
    texts = ["Rojbaş, tu çawa yî?", "Em ê sibê biçin gund."]
    voices = {name: [natural.speak(t, natural.speaker(name), 16000) for t in texts] for name in ("rojda", "serhat")}
    # serhat is rojda's style resynthesised lower and darker: a voice of its own (two of Kokoro's own
    # styles, jf_gongitsune and jf_nezumi, lie about 4.3 dB apart on this measure)
    distance = np.mean([mcd_dtw(a, b, 16000) for a, b in zip(voices["rojda"], voices["serhat"])])
    assert distance > 4.0

    import pyworld

    def median_f0(audios):
        f0 = np.concatenate([pyworld.harvest(a.astype(np.float64), 16000)[0] for a in audios])
        return np.median(f0[f0 > 0])

    assert median_f0(voices["serhat"]) < 0.7 * median_f0(voices["rojda"])


def test_the_speakers_file_keeps_the_judge_from_the_unheard_and_the_targets():
    rows = json.loads((ROOT / "data" / "corpus" / "speakers.json").read_text())["speakers"]
    judge = [r for r in rows if "judge" in r["roles"]]
    kept_out = [r for r in rows if {"unheard", "target"} & set(r["roles"])]
    assert len(rows) >= 10 and {r["sex"] for r in rows} == {"female", "male"}
    assert len([r for r in rows if "unheard" in r["roles"]]) >= 2 and not any("judge" in r["roles"] for r in kept_out)
    heard_styles = {style for r in judge for style in r["styles"]}
    assert set(natural.STYLES) - heard_styles  # at least one whole base style the judge never hears


def test_drawn_speakers_are_valid_reproducible_of_both_sexes_and_only_of_the_styles_given():
    styles = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jm_kumo")
    draws = [natural.drawn_speaker(np.random.default_rng(3), styles, f"d{i}") for i in range(2)]
    assert draws[0].styles == draws[1].styles and draws[0].pitch == draws[1].pitch  # the same seed, the same voice
    rng = np.random.default_rng(0)
    many = [natural.drawn_speaker(rng, styles) for _ in range(200)]
    assert {v.sex for v in many} == {"female", "male"}
    assert all(set(v.styles) <= set(styles) and abs(sum(v.styles.values()) - 1) < 1e-6 for v in many)
    assert len({(v.pitch, v.formant, v.speed) for v in many}) == 200  # no two alike
    assert any(v.styles.get("jm_kumo", 0) >= 0.8 for v in many) and any(v.pitch < 0.75 for v in many)
    with pytest.raises(natural.SpeakerError, match="female style"):
        natural.drawn_speaker(rng, ("jm_kumo",))


def test_phonemes_join_clauses_with_their_punctuation_and_drop_language_markers():
    ipa = natural.phonemes("Rojbaş, tu çawa yî? Ez 25 salî me.")
    assert ipa.count(",") == 1 and ipa.count("?") == 1 and ipa.endswith(".")
    assert "(" not in natural.phonemes("Ez e-mail û computer dişînim.")  # espeak-ng's (en)...(ku) markers
    assert "ø" in natural.phonemes("Hewa pir xweş e.") and "ɵ" not in natural.phonemes("Hewa pir xweş e.")


@pytest.mark.parametrize("make, message", [
    (lambda: natural.speaker("nobody"), "unknown speaker 'nobody'"),
    (lambda: natural.Speaker("x", {"jf_alpha": 0.5, "jm_kumo": 0.3}), "must be at least 0 and sum to 1"),
    (lambda: natural.Speaker("x", {"jf_beta": 1.0}), "unknown style jf_beta"),
    (lambda: natural.phonemes("?! …"), "nothing to say"),
])
def test_bad_speakers_and_texts_are_one_line_errors(make, message):
    with pytest.raises(natural.SpeakerError, match=message) as error:
        make()
    assert "\n" not in str(error.value)


def test_a_symbol_kokoro_lacks_is_named(monkeypatch):
    monkeypatch.setattr(natural, "IPA_MAP", {})
    with pytest.raises(natural.SpeakerError, match="no Kokoro phoneme for ɵ"):
        natural.phonemes("Hewa pir xweş e.")


def test_speak_py_refuses_an_unknown_speaker_in_one_line():
    result = subprocess.run([sys.executable, str(ROOT / "data" / "speak.py"), "--train", "finetune", "--speaker",
                             "nobody", "--output", "/nonexistent"], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].startswith("speak.py: error: unknown speaker")


def test_common_voice_conditions_put_the_noise_where_they_say():
    clean = natural.speak(SENTENCE, natural.speaker("azad"), 16000)
    for snr in (12.0, 25.0):
        conditions = Conditions(snr_db=(snr, snr), silence_s=(1.0, 1.0), hum=0.0)
        recording, drawn = record(clean, 16000, np.random.default_rng(3), conditions)
        assert drawn.snr_db == snr and np.abs(recording).max() <= 1.0
        assert len(recording) == len(clean) + 32000
        speech, silence = slice(16000, len(recording) - 16000), slice(0, 15000)
        assert abs(measured_snr(recording, speech, silence) - snr) < 1.5
    again, _ = record(clean, 16000, np.random.default_rng(3), conditions)
    assert np.array_equal(again, recording)  # the same seed, the same record


def test_speak_py_writes_a_natural_speakers_common_voice_records_as_training_data(tmp_path):
    import soundfile as sf

    from kurdish_tts.corpus.metadata import read_metadata

    speak = [sys.executable, str(ROOT / "data" / "speak.py"), "--train", "finetune", "--eval", "--speaker", "azad",
             "--recorded", "--seed", "5", "--limit", "2", "--output", str(tmp_path / "d")]
    result = subprocess.run(speak, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    clips = read_metadata(tmp_path / "d" / "metadata.csv")
    record = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert len(clips) == 2 and record["speaker"] == "azad" and record["recorded"] is True
    audio, rate = sf.read(tmp_path / "d" / "wavs" / clips[0].file)
    assert rate == 16000 and audio.ndim == 1 and 0.5 < len(audio) / rate < 10
