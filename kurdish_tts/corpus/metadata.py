"""The metadata contract every stage reads and writes.

`metadata.csv` (and `metadata_eval.csv`) hold one clip a line, `<id>.wav|<normalised text>`,
UTF-8, no header; the audio lies in `wavs/` beside them as 16 kHz mono 16-bit PCM. Data of several
voices names each clip's voice in a middle column, `<id>.wav|<voice>|<normalised text>` (LJSpeech's
multi-speaker form); a file is written one way or the other, never both.
A reader checks what it trusts: the file is inside `wavs/`, the sample rate matches,
the text is non-empty and speakable.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from kurdish_tts.files import not_utf8, read_json_object, write_text_atomic

SEPARATOR = "|"
TRAIN_FILE = "metadata.csv"
DATASET_RECORD = "dataset.json"  # what prepare_data.py (or data/speak.py) recorded about the folder
EVAL_FILE = "metadata_eval.csv"
WAVS_DIR = "wavs"
# VITS aligns every token to at least one spectrogram frame; MMS (and every config here) makes a
# frame every 256 samples, and its tokenizer puts a blank around every character.
MODEL_HOP = 256
VOICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")  # a voice's name: short, no spaces, no "|"


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
    voice: str = ""  # the voice that speaks it, in data of several voices; "" in one-voice data

    @property
    def id(self) -> str:
        return Path(self.file).stem


class MetadataError(ValueError):
    """A metadata file or the clips it names break the contract."""


def voice_name_problem(name: str) -> str:
    """Why `name` cannot name a voice ("" when it can)."""
    if VOICE_NAME.fullmatch(name):
        return ""
    return f"voice name {name[:40]!r} must be 1-32 letters, digits, '_', '.' or '-', starting with a letter or digit"


def read_metadata(path: Path) -> list[Clip]:
    """Parse `path`; a malformed line, or a file that mixes one-voice and multi-voice lines, is an
    error that names the file and line."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f"{path} not found: run prepare_data.py first, or point to the right file "
                            "(--data_dir; --metadata for synthesize.py --evaluate)")
    clips, first_of = [], {}
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a byte-order mark (Notepad's) is not part of a name
    except UnicodeDecodeError as error:
        raise MetadataError(not_utf8(path, error)) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(SEPARATOR)
        if len(fields) == 2:
            clip = Clip(fields[0].strip(), fields[1].strip())
        elif len(fields) == 3:
            clip = Clip(fields[0].strip(), fields[2].strip(), fields[1].strip())
            problem = voice_name_problem(clip.voice)
            if problem:
                raise MetadataError(f"{path}:{number}: {problem}")
        else:
            raise MetadataError(f"{path}:{number}: expected '<id>.wav|text' or '<id>.wav|voice|text', "
                                f"got {line[:60]!r}")
        first_of.setdefault(bool(clip.voice), number)
        if len(first_of) == 2:
            raise MetadataError(f"{path}: line {first_of[False]} has no voice ('<id>.wav|text') and line "
                                f"{first_of[True]} names one ('<id>.wav|voice|text'): write every line one way")
        clips.append(clip)
    return clips


def write_metadata(path: Path, clips: Iterable[Clip]) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one. Clips with
    voices are written in three columns; every clip then needs one."""
    clips = list(clips)
    voiced = {bool(clip.voice) for clip in clips}
    if len(voiced) == 2:
        raise MetadataError(f"{path}: some clips name a voice and some do not: give every clip a voice or none")
    lines = []
    for clip in clips:
        if SEPARATOR in clip.text or "\n" in clip.text or "\r" in clip.text:
            raise MetadataError(f"text of {clip.file} contains '|' or a line break: normalise it first")
        if clip.voice:
            problem = voice_name_problem(clip.voice)
            if problem:
                raise MetadataError(f"{clip.file}: {problem}")
            lines.append(f"{clip.file}{SEPARATOR}{clip.voice}{SEPARATOR}{clip.text}\n")
        else:
            lines.append(f"{clip.file}{SEPARATOR}{clip.text}\n")
    write_text_atomic(Path(path), "".join(lines))


def voices_of(clips: Iterable[Clip]) -> list[str]:
    """The voices that speak `clips`, sorted by name; [] for one-voice data."""
    return sorted({clip.voice for clip in clips if clip.voice})


def check_same_form(train: list[Clip], held_out: list[Clip], data_dir: Path) -> None:
    """metadata.csv and metadata_eval.csv must both name voices or both not, share no clip (held-out
    clips are ones the model never trains on; a prepare_data.py run stopped between writing the two
    can leave one file of each run), and the held-out voices must be voices the training data has."""
    if train and held_out and bool(train[0].voice) != bool(held_out[0].voice):
        raise MetadataError(f"{Path(data_dir)}: {TRAIN_FILE} and {EVAL_FILE} differ: one names each clip's voice and "
                            "the other does not; re-run prepare_data.py")
    shared = sorted({clip.file for clip in train} & {clip.file for clip in held_out})
    if shared:
        raise MetadataError(f"{Path(data_dir)}: {len(shared)} clip(s) in both {TRAIN_FILE} and {EVAL_FILE} "
                            f"({', '.join(shared[:3])}{' ...' if len(shared) > 3 else ''}): a held-out clip must not "
                            "be trained on; re-run prepare_data.py")
    unknown = sorted(set(voices_of(held_out)) - set(voices_of(train)))
    if unknown:
        raise MetadataError(f"{Path(data_dir) / EVAL_FILE}: voice {', '.join(unknown)} has no clip in {TRAIN_FILE}")


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
    rate is `sample_rate` and it is mono, its text is non-empty and (when `characters` is given) holds only
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
        elif info.channels != 1:
            note("more than one channel", f"{clip.file} ({info.channels})")
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
    return read_json_object(Path(data_dir) / DATASET_RECORD)
