"""A training folder in the on-disk contract (wavs/, metadata.csv, metadata_eval.csv) of
speech-like clips: what a tiny training run needs, made in a moment."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from kurdish_tts.corpus.metadata import Clip, write_metadata
from kurdish_tts.samples.signals import speech_like

TEXTS = ["ez ji te hez dikim", "rojbaş tu çawa yî", "em ê sibê biçin", "hewa pir xweş e",
         "ez bîst û pênc salî me", "av sar e", "ew hat mala me", "dengê te xweş e"]


def write_data(folder: Path, texts=TEXTS, seconds=lambda i: 1.6 + 0.2 * (i % 4), eval_count: int = 2) -> Path:
    """One clip a text (clip i lasts seconds(i), at its own pitch); the first `eval_count` held out."""
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    clips = []
    for i, text in enumerate(texts):
        sf.write(folder / "wavs" / f"c{i}.wav", speech_like(seconds(i), seed=i, pad=0.05, pitch=110 + 15 * i), 16000,
                 subtype="PCM_16")
        clips.append(Clip(f"c{i}.wav", text))
    write_metadata(folder / "metadata.csv", clips[eval_count:])
    write_metadata(folder / "metadata_eval.csv", clips[:eval_count])
    return folder
