"""espeak-ng voices: Kurmanji sentences spoken and cleaned as training data, and training folders of
them in the on-disk contract (wavs/, metadata.csv, metadata_eval.csv, dataset.json). Clips already
spoken are kept, so speaking a folder again costs nothing.

Needs the Debian package espeak-ng.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import soundfile as sf

from kurdish_tts.corpus.audio import CleaningSettings, clean_decoded, write_wav
from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE, WAVS_DIR, Clip, write_metadata
from kurdish_tts.files import write_text_atomic
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.text import normalizer
from kurdish_tts.text.normalizer import normalize_text
from kurdish_tts.text.vocabulary import mms_vocabulary

SPEED = 150  # words a minute, as the demo corpus speaks
CLEANING = CleaningSettings(min_duration=0.5)


@functools.cache
def espeak_version() -> str:
    """'1.51' (what `espeak-ng --version` prints), recorded beside everything spoken with it."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("error: espeak-ng not found: apt-get install espeak-ng")
    words = subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True, text=True).stdout.split()
    return words[words.index("text-to-speech:") + 1] if "text-to-speech:" in words else " ".join(words[:4])


def speak(text: str, voice: str, speed: int = SPEED, pitch: int | None = None) -> tuple[object, int]:
    """espeak-ng -> (float32 samples, sample rate), as espeak-ng made them (22.05 kHz)."""
    command = ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout"]
    if pitch is not None:
        command += ["-p", str(pitch)]
    wav = subprocess.run(command + [text], check=True, capture_output=True).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return audio, rate


def speak_clean(text: str, voice: str, speed: int = SPEED, pitch: int | None = None):
    """espeak-ng speech cleaned like training data: float32 at 16 kHz, trimmed, peak-normalised."""
    return clean_decoded(*speak(text, voice, speed, pitch), CLEANING)


def spoken_text(sentence: str) -> str:
    return normalize_text(sentence, mms_vocabulary().characters).text


def write_folder(output: Path, voice: str, train: list[str], eval_groups: list[str], speed: int = SPEED,
                 limit: int | None = None) -> dict:
    """Speak the groups into `output`; returns what dataset.json records."""
    wavs = output / WAVS_DIR
    wavs.mkdir(parents=True, exist_ok=True)
    parts = {TRAIN_FILE: [s for g in train for s in read_sentences(g)][:limit],
             EVAL_FILE: [s for g in eval_groups for s in read_sentences(g)]}

    def one(item: tuple[str, str]) -> Clip:
        clip_id, sentence = item
        path = wavs / f"{clip_id}.wav"
        if not path.is_file():
            write_wav(path, speak_clean(sentence, voice, speed), CLEANING.target_sr)
        return Clip(f"{clip_id}.wav", spoken_text(sentence))

    counts = {}
    with ThreadPoolExecutor(2) as pool:
        for file, items in parts.items():
            clips = list(pool.map(one, items))
            write_metadata(output / file, clips)
            counts[file] = len(clips)
    seconds = sum(sf.info(str(p)).duration for p in wavs.glob("*.wav"))
    record = {"source": f"espeak-ng {espeak_version()} voice {voice} at {speed} words a minute",
              "espeak_ng": espeak_version(), "voice": voice, "speed": speed, "groups": {"train": train, "eval": eval_groups},
              "counts": counts, "hours": round(seconds / 3600, 3), "arguments": asdict(CLEANING),
              "sample_rate": CLEANING.target_sr, "vocabulary": "MMS Kurmanji (facebook/mms-tts-kmr-script_latin)",
              normalizer.VERSION_KEY: normalizer.VERSION}
    write_text_atomic(output / "dataset.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return record
