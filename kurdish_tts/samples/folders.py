"""Training folders in the on-disk contract (wavs/, metadata.csv, metadata_eval.csv, dataset.json):
of speech-like clips (what a tiny training run needs, made in a moment), and of sentence groups
spoken by any voice and cleaned as prepare_data.py cleans Common Voice."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from kurdish_tts.corpus.audio import CleaningSettings, write_wav
from kurdish_tts.corpus.metadata import DATASET_RECORD, EVAL_FILE, TRAIN_FILE, WAVS_DIR, Clip, write_metadata
from kurdish_tts.files import write_text_atomic
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.samples.signals import speech_like
from kurdish_tts.text import normalizer
from kurdish_tts.text.vocabulary import mms_vocabulary

CLEANING = CleaningSettings(min_duration=0.5)  # as prepare_data.py cleans, with shorter clips allowed

TEXTS = ["ez ji te hez dikim", "rojbaş tu çawa yî", "em ê sibê biçin", "hewa pir xweş e",
         "ez bîst û pênc salî me", "av sar e", "ew hat mala me", "dengê te xweş e"]


def write_data(folder: Path, texts=TEXTS, seconds=lambda i: 1.6 + 0.2 * (i % 4), eval_count: int = 2,
               voices: tuple[str, ...] = ()) -> Path:
    """One clip a text (clip i lasts seconds(i), at its own pitch); the first `eval_count` held out.
    With `voices`, clip i is voice i modulo their number (three-column metadata)."""
    (folder / "wavs").mkdir(parents=True, exist_ok=True)
    clips = []
    for i, text in enumerate(texts):
        sf.write(folder / "wavs" / f"c{i}.wav", speech_like(seconds(i), seed=i, pad=0.05, pitch=110 + 15 * i), 16000,
                 subtype="PCM_16")
        clips.append(Clip(f"c{i}.wav", text, voices[i % len(voices)] if voices else ""))
    write_metadata(folder / "metadata.csv", clips[eval_count:])
    write_metadata(folder / "metadata_eval.csv", clips[:eval_count])
    return folder


def spoken_text(sentence: str) -> str:
    """A sentence as a transcript holds it: normalised, in MMS Kurmanji's characters."""
    return normalizer.normalize_text(sentence, mms_vocabulary().characters).text


def speak_groups(output: Path, say: Callable[[str, str], np.ndarray], about: dict, train: list[str],
                 eval_groups: list[str], limit: int | None = None) -> dict:
    """Speak the sentence groups `train` (the first `limit` sentences) into metadata.csv and
    `eval_groups` into metadata_eval.csv: `say(clip_id, sentence)` gives a clip's audio, cleaned, at
    CLEANING.target_sr. Clips already in wavs/ are kept, so speaking a folder again costs nothing.
    Returns what dataset.json records: `about` (what spoke) and the counts."""
    wavs = output / WAVS_DIR
    wavs.mkdir(parents=True, exist_ok=True)
    parts = {TRAIN_FILE: [s for g in train for s in read_sentences(g)][:limit],
             EVAL_FILE: [s for g in eval_groups for s in read_sentences(g)]}

    def one(item: tuple[str, str]) -> Clip:
        clip_id, sentence = item
        path = wavs / f"{clip_id}.wav"
        if not path.is_file():
            write_wav(path, say(clip_id, sentence), CLEANING.target_sr)
        return Clip(f"{clip_id}.wav", spoken_text(sentence))

    counts = {}
    with ThreadPoolExecutor(2) as pool:
        for file, items in parts.items():
            clips = list(pool.map(one, items))
            write_metadata(output / file, clips)
            counts[file] = len(clips)
    seconds = sum(sf.info(str(p)).duration for p in wavs.glob("*.wav"))
    record = {**about, "groups": {"train": train, "eval": eval_groups}, "counts": counts,
              "hours": round(seconds / 3600, 3), "arguments": asdict(CLEANING), "sample_rate": CLEANING.target_sr,
              "vocabulary": "MMS Kurmanji (facebook/mms-tts-kmr-script_latin)",
              normalizer.VERSION_KEY: normalizer.VERSION}
    write_text_atomic(output / DATASET_RECORD, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record
