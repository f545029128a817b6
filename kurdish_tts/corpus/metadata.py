"""The metadata contract every stage reads and writes.

`metadata.csv` (and `metadata_eval.csv`) hold one clip a line, `<id>.wav|<normalised text>`,
UTF-8, no header; the audio lies in `wavs/` beside them as 16 kHz mono 16-bit PCM.
A reader checks what it trusts: the file is inside `wavs/`, the sample rate matches,
the text is non-empty and speakable.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from kurdish_tts.files import write_text_atomic

SEPARATOR = "|"
TRAIN_FILE = "metadata.csv"
DATASET_RECORD = "dataset.json"  # what prepare_data.py (or data/speak.py) recorded about the folder
EVAL_FILE = "metadata_eval.csv"
WAVS_DIR = "wavs"
# VITS aligns every token to at least one spectrogram frame; MMS (and every config here) makes a
# frame every 256 samples, and its tokenizer puts a blank around every character.
MODEL_HOP = 256


def tokens_of(text: str) -> int:
    """Tokens the MMS-style tokenizer makes of normalised `text`: a blank before, between and after."""
    return 2 * len(text) + 1


def too_short(samples: int, tokens: int, hop: int = MODEL_HOP) -> bool:
    """The one rule: a clip of `samples` cannot be aligned with `tokens` tokens when it has fewer frames."""
    return samples // hop < tokens


@dataclass(frozen=True)
class Clip:
    """One line of a metadata file: a wav file name inside `wavs/` and the text spoken in it."""

    file: str  # "<id>.wav", a bare file name
    text: str

    @property
    def id(self) -> str:
        return Path(self.file).stem


class MetadataError(ValueError):
    """A metadata file or the clips it names break the contract."""


def read_metadata(path: Path) -> list[Clip]:
    """Parse `path`; a malformed line is an error that names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f"{path} not found: run prepare_data.py first, or point to the right file "
                            "(--data_dir; --metadata for synthesize.py --evaluate)")
    clips = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        file, sep, text = line.partition(SEPARATOR)
        if not sep or SEPARATOR in text:
            raise MetadataError(f"{path}:{number}: expected '<id>.wav|text', got {line[:60]!r}")
        clips.append(Clip(file.strip(), text.strip()))
    return clips


def write_metadata(path: Path, clips: Iterable[Clip]) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    lines = []
    for clip in clips:
        if SEPARATOR in clip.text or "\n" in clip.text or "\r" in clip.text:
            raise MetadataError(f"text of {clip.file} contains '|' or a line break: normalise it first")
        lines.append(f"{clip.file}{SEPARATOR}{clip.text}\n")
    write_text_atomic(Path(path), "".join(lines))


NOT_BARE, MISSING, UNREADABLE = "not a bare .wav name inside wavs/", "missing wav", "unreadable wav"


def listed_wav(wavs: Path, file: str) -> tuple[object | None, str, str]:
    """(header, "", "") of the wav a metadata line names, or (None, problem, detail): NOT_BARE for a
    path instead of a bare `<id>.wav` name (nothing outside `wavs` is ever read), MISSING, or
    UNREADABLE with libsndfile's reason."""
    name = Path(file)
    if name.name != file or name.suffix != ".wav":
        return None, NOT_BARE, ""
    path = wavs / file
    if not path.is_file():
        return None, MISSING, ""
    try:
        return sf.info(str(path)), "", ""
    except (sf.LibsndfileError, RuntimeError) as e:
        return None, UNREADABLE, str(e)


def check_clips(
    data_dir: Path,
    clips: list[Clip],
    sample_rate: int,
    characters: Collection[str] | None = None,
    *,
    metadata_name: str = TRAIN_FILE,
    show: int = 3,
) -> None:
    """Raise `MetadataError` naming the first offenders when a clip breaks the contract.

    Checks, for every clip: a bare file name inside `wavs/`, the file exists, its sample
    rate is `sample_rate`, its text is non-empty and (when `characters` is given) holds only
    characters the model can say.
    """
    wavs = Path(data_dir) / WAVS_DIR
    problems: dict[str, list[str]] = {}

    def note(kind: str, detail: str) -> None:
        problems.setdefault(kind, []).append(detail)

    if not clips:
        raise MetadataError(f"{Path(data_dir) / metadata_name} lists no clips: prepare some data first")
    allowed = set(characters) | {" "} if characters is not None else None
    for clip in clips:
        info, problem, detail = listed_wav(wavs, clip.file)
        if problem == NOT_BARE:
            note(problem, clip.file)
            continue
        if not clip.text:
            note("empty text", clip.file)
        elif allowed is not None:
            unsayable = sorted(set(clip.text) - allowed)
            if unsayable:
                note("characters the model cannot say", f"{clip.file} ({''.join(unsayable)!r})")
        if problem:
            note(problem, f"{clip.file} ({detail})" if detail else clip.file)
        elif info.samplerate != sample_rate:
            note(f"sample rate is not {sample_rate} Hz", f"{clip.file} ({info.samplerate} Hz)")
    if problems:
        parts = [
            f"{len(items)} with {kind}: {', '.join(items[:show])}{' ...' if len(items) > show else ''}"
            for kind, items in problems.items()
        ]
        raise MetadataError(
            f"{Path(data_dir) / metadata_name}: " + "; ".join(parts) + " (re-run prepare_data.py to fix the data)"
        )


def read_dataset_record(data_dir: Path) -> dict:
    """The folder's dataset.json as a dict; {} when there is none or it cannot be read as one."""
    path = Path(data_dir) / DATASET_RECORD
    try:
        record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return record if isinstance(record, dict) else {}
