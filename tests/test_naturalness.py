"""DNSMOS (kurdish_tts.corpus.naturalness) on known signals: speech-like audio against the same audio
drowned in noise, every rate, and the audio that must never reach speechmos."""

import numpy as np
import pytest
from helpers import drowned
from speechmos import dnsmos as speechmos_dnsmos

from kurdish_tts.corpus import naturalness
from kurdish_tts.corpus.audio import resample
from kurdish_tts.corpus.naturalness import WINDOW, UnscorableAudio, dnsmos
from kurdish_tts.samples.signals import speech_like


@pytest.fixture
def calls(monkeypatch):
    """Every clip that reaches speechmos's model, as it reaches it (the model still scores it)."""
    seen = []
    score = speechmos_dnsmos.DNSMOS.__call__

    def recorded(self, audio, rate, personalized):
        seen.append((audio.copy(), rate))
        return score(self, audio, rate, personalized)

    monkeypatch.setattr(speechmos_dnsmos.DNSMOS, "__call__", recorded)
    return seen


def test_a_speech_like_clip_scores_above_the_same_clip_drowned_in_noise():
    clip = speech_like(3.0, seed=1)
    clean, noisy = dnsmos(clip, 16000), dnsmos(drowned(clip, 0.0), 16000)
    assert set(clean) == {"ovrl", "sig", "bak", "p808"}
    assert all(1.0 <= value <= 5.0 for value in [*clean.values(), *noisy.values()])
    assert clean["ovrl"] > noisy["ovrl"] + 0.5  # measured: 2.5 against 1.6
    assert clean["bak"] > noisy["bak"] + 1.5  # measured: 3.8 against 1.2
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, 48000).astype(np.float32)
    assert dnsmos(noise, 16000)["ovrl"] < 1.5  # white noise: about 1.1


def test_any_rate_is_resampled_and_samples_beyond_full_scale_are_clipped(calls):
    clip = speech_like(3.0, seed=2)
    at_16k = dnsmos(clip, 16000)
    at_44k = dnsmos(resample(clip, 16000, 44100), 44100)
    assert at_44k["ovrl"] == pytest.approx(at_16k["ovrl"], abs=0.1)
    loud = dnsmos(np.stack([clip * 4, clip * 4], axis=1), 16000)  # stereo, beyond full scale: speechmos would raise
    assert 1.0 <= loud["ovrl"] <= 5.0
    assert [rate for _, rate in calls] == [16000] * 3
    assert all(audio.size == WINDOW for audio, _ in calls)  # a 3.8 s clip repeated to fill one window
    assert np.abs(calls[-1][0]).max() == 1.0


def test_the_score_is_speechmos_own_on_the_clip_repeated_to_one_window():
    clip = speech_like(2.0, seed=3)
    mine = dnsmos(clip, 16000)
    theirs = speechmos_dnsmos.run(np.resize(clip, WINDOW), 16000)
    assert mine == pytest.approx({name: float(theirs[f"{name}_mos"]) for name in mine}, abs=1e-5)
    assert naturalness._model() is naturalness._model()  # loaded once in this process


@pytest.mark.parametrize("audio, message", [
    (np.zeros(0, np.float32), "DNSMOS needs at least 0.25 s of audio, not 0.000 s"),
    (np.zeros((0, 2), np.float32), "DNSMOS needs at least 0.25 s of audio, not 0.000 s"),
    (speech_like(0.1, pad=0.0), "DNSMOS needs at least 0.25 s of audio, not 0.100 s"),
    (np.where(np.arange(16000) == 5, np.nan, speech_like(1.0, pad=0.0)).astype(np.float32), "NaN or infinite samples"),
    (np.where(np.arange(16000) == 5, np.inf, speech_like(1.0, pad=0.0)).astype(np.float32), "NaN or infinite samples"),
])
def test_empty_short_and_non_finite_audio_never_reach_speechmos(calls, audio, message):
    with pytest.raises(UnscorableAudio) as refused:  # speechmos would never return on empty audio
        dnsmos(audio, 16000)
    assert isinstance(refused.value, ValueError) and message in str(refused.value)
    assert "\n" not in str(refused.value)
    assert calls == []
