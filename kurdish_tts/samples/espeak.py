"""espeak-ng voices: Kurmanji sentences spoken and cleaned as training data, and training folders of
them in the on-disk contract (wavs/, metadata.csv, metadata_eval.csv, dataset.json). Clips already
spoken are kept, so speaking a folder again costs nothing.

Needs the Debian package espeak-ng.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from pathlib import Path

import soundfile as sf

from kurdish_tts.corpus.audio import clean_decoded
from kurdish_tts.samples.folders import CLEANING, speak_groups

SPEED = 150  # words a minute, as the demo corpus speaks


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


def write_folder(output: Path, voice: str, train: list[str], eval_groups: list[str], speed: int = SPEED,
                 limit: int | None = None) -> dict:
    """Speak the groups with the espeak-ng `voice` into `output`; returns what dataset.json records."""
    about = {"source": f"espeak-ng {espeak_version()} voice {voice} at {speed} words a minute",
             "espeak_ng": espeak_version(), "voice": voice, "speed": speed}
    return speak_groups(output, lambda clip_id, sentence: speak_clean(sentence, voice, speed), about, train,
                        eval_groups, limit)
