"""What a clip must pass to become training data, the same for a Common Voice row and a donated correction.

In order: the audio cleans (`audio.clean_decoded`: not silent, trimmed length within the limits);
a donation also passes `audio.check_donation`; the normalised text holds something the model can
say; the audio has a frame for every token of that text (`metadata.too_short`). A clip that fails
raises `audio.ClipRejected` with a short reason that callers count; the two text reasons raise
subclasses, so that a caller can word them its own way. Data preparation may ask one check more,
the costliest, after all of these: `check_naturalness` (DNSMOS).
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from kurdish_tts.corpus import audio
from kurdish_tts.corpus.metadata import tokens_of, too_short
from kurdish_tts.corpus.naturalness import dnsmos
from kurdish_tts.text.normalizer import NormalizedText, normalize_text


class UnsayableText(audio.ClipRejected):
    """The text is empty ("empty text") or the model can say none of it ("nothing sayable in text")."""

    def __init__(self, text: str):
        super().__init__("empty text" if not text.strip() else "nothing sayable in text", text[:40])


class AudioTooShortForText(audio.ClipRejected):
    """Fewer spectrogram frames than the text has tokens: the clip cannot be aligned with its text."""

    def __init__(self, seconds: float, characters: int):
        super().__init__("audio too short for its text", f"{seconds:.2f} s, {characters} characters")
        self.seconds = seconds
        self.characters = characters  # of the normalised text


class LowNaturalness(audio.ClipRejected):
    """DNSMOS OVRL below the least asked ("low DNSMOS"); `scores` holds the clip's DNSMOS all the same."""

    def __init__(self, scores: dict[str, float], least: float):
        super().__init__("low DNSMOS", f"OVRL {scores['ovrl']:.2f} < {least:g}")
        self.scores = scores


def accept_clip(decoded: np.ndarray, rate: int, text: str, characters: Collection[str],
                settings: audio.CleaningSettings, *, donation: bool = False) -> tuple[np.ndarray, NormalizedText]:
    """Clean a decoded clip ([samples, channels] at `rate`, from `audio.decode`) and normalise its text;
    returns (float32 mono audio at `settings.target_sr`, normalised text) or raises `ClipRejected`.

    With `donation`, a clip with sayable text must also pass `audio.check_donation` (clipping,
    loudness, letters a second), on the audio as decoded. Decoding stays with the caller, which
    may need the decoded length of a clip that is then refused.
    """
    normalized = normalize_text(text, characters)
    cleaned = audio.clean_decoded(decoded, rate, settings)
    if donation and normalized.text:
        audio.check_donation(decoded, rate, sum(c.isalpha() for c in normalized.text), settings.trim_db,
                              settings.trim_floor_db)
    _check_text(text, normalized, cleaned.size, settings.target_sr)
    return cleaned, normalized


def accept_text(text: str, characters: Collection[str], samples: int, rate: int) -> NormalizedText:
    """The text checks of `accept_clip` alone, for audio already cleaned: `samples` of it at `rate`."""
    normalized = normalize_text(text, characters)
    _check_text(text, normalized, samples, rate)
    return normalized


def check_naturalness(cleaned: np.ndarray, rate: int, least: float) -> dict[str, float]:
    """The clip's DNSMOS (`naturalness.dnsmos` of cleaned audio at `rate`, as it is written), or
    `LowNaturalness` when its OVRL lies below `least`."""
    scores = dnsmos(cleaned, rate)
    if scores["ovrl"] < least:
        raise LowNaturalness(scores, least)
    return scores


def _check_text(text: str, normalized: NormalizedText, samples: int, rate: int) -> None:
    if not normalized.text:
        raise UnsayableText(text)
    if too_short(samples, tokens_of(normalized.text)):
        raise AudioTooShortForText(samples / rate, len(normalized.text))
