"""Measuring a voice against held-out recordings.

For each clip of a metadata file, the model speaks the clip's text with a fixed seed and the
result is compared with the recording:

- MCD-DTW: mel cepstral distortion (dB) between the two, after aligning them in time with
  dynamic time warping, over mel-cepstral coefficients 1-24 of WORLD's spectral envelope
  (c0, loudness, left out), the analysis of most papers;
- duration ratio: length of the synthesis over length of the recording (both trimmed);
- CER: character error rate of a speech recogniser's transcript of the synthesis against the
  text, when a local recognition model is given;
- DNSMOS (OVRL, SIG, BAK, P808; kurdish_tts.corpus.naturalness): how natural and clean the
  synthesis sounds, 1-5, when asked for (it predicts quality, not intelligibility: read it beside
  the CER).

The recordings themselves get the CER and the DNSMOS too (`score_recordings`): the reference row
that every voice's figures stand beside.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
from scipy.spatial.distance import cdist

from kurdish_tts import hub
from kurdish_tts.corpus.audio import resample, to_mono, trim_silence
from kurdish_tts.corpus.metadata import MISSING, NOT_BARE, WAVS_DIR, Clip, MetadataError, listed_wav
from kurdish_tts.corpus.naturalness import CALIBRATION, MEASURES, UnscorableAudio, dnsmos

N_CEPSTRA = 24  # c1..c24
FRAME_MS = 5.0
MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)  # dB per unit of cepstral distance
TRIM_DB = 40.0
RECORDINGS = "recordings"  # the reference row's name in the table and its per-clip scores


class EvaluationError(ValueError):
    """A problem with what the evaluation was given that the user can fix (recogniser, report path)."""


@dataclass
class ClipScore:
    clip: str
    model: str  # RECORDINGS for a recording's own scores, which have no MCD or ratios
    mcd_dtw: float | None  # dB
    duration_ratio: float | None  # synthesis / recording
    cer: float | None = None
    loudness_ratio: float | None = None  # synthesis / recording, RMS with silences trimmed
    dnsmos_ovrl: float | None = None  # DNSMOS, 1-5, when asked for and the audio is long enough
    dnsmos_sig: float | None = None
    dnsmos_bak: float | None = None
    dnsmos_p808: float | None = None
    voice: str = ""  # the voice a multi-voice model spoke the clip with: the clip's own, in data of several voices


SUMMARIZED = ("mcd_dtw", "duration_ratio", "cer", "loudness_ratio", *(f"dnsmos_{name}" for name in MEASURES))


def mel_cepstra(audio: np.ndarray, rate: int) -> np.ndarray:
    """[samples] -> [frames, 24] mel-cepstral coefficients c1..c24, 5 ms frames: the analysis most papers'
    MCD uses. WORLD's spectral envelope (pyworld: DIO + StoneMask pitch, CheapTrick) turned into a
    mel-cepstrum by SPTK (pysptk.sp2mc) with the all-pass constant for the rate (0.41 at 16 kHz).

    Unlike a mel filter bank, the envelope does not carry the harmonics of the pitch, so a steady
    buzz, another speaker and a close variant of one voice land far apart (the calibration table
    in BENCHMARKS.md)."""
    with warnings.catch_warnings():  # both import pkg_resources, which warns that it is deprecated
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import pysptk
        import pyworld
    signal = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.dio(signal, rate, frame_period=FRAME_MS)
    f0 = pyworld.stonemask(signal, f0, times, rate)
    envelope = pyworld.cheaptrick(signal, f0, times, rate)
    cepstra = pysptk.sp2mc(envelope, order=N_CEPSTRA, alpha=all_pass_constant(rate))
    return cepstra[:, 1:]  # c0 (loudness) left out


@functools.lru_cache(maxsize=8)
def all_pass_constant(rate: int) -> float:
    """The frequency-warping constant alpha whose all-pass warping, omega + 2 atan(alpha sin omega /
    (1 - alpha cos omega)), lies closest (least squares, both scaled to [0, 1]) to the mel scale
    ln(1 + f / 1000) (Fant's, as SPTK fits it) from 0 to rate / 2: 0.41 at 16 kHz, 0.54 at 44.1 kHz."""
    omega = np.linspace(0.0, np.pi, 1000)
    mel = np.log1p(omega / np.pi * rate / 2 / 1000.0)
    mel /= mel[-1]
    alphas = np.arange(0.0, 0.99, 0.001)
    warped = omega + 2 * np.arctan(alphas[:, None] * np.sin(omega) / (1 - alphas[:, None] * np.cos(omega)))
    errors = np.mean((warped / np.pi - mel) ** 2, axis=1)
    return float(round(alphas[np.argmin(errors)], 3))


def mcd_dtw(reference: np.ndarray, synthesized: np.ndarray, rate: int) -> float:
    """Mel cepstral distortion in dB along the DTW path between the two signals (0 for identical audio)."""
    ref, syn = mel_cepstra(reference, rate), mel_cepstra(synthesized, rate)
    cost = frame_distances(ref, syn)
    _, path = librosa.sequence.dtw(C=cost)
    return float(MCD_SCALE * np.mean(cost[path[:, 0], path[:, 1]]))


def frame_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[frames a, d], [frames b, d] -> [frames a, frames b] float32 Euclidean distances, without a
    [frames a, frames b, d] intermediate (that one needs 1.5 GB for two 20 s clips)."""
    return cdist(a, b).astype(np.float32)


def read_recording(path: Path) -> tuple[np.ndarray, int]:
    """A recording as float32 mono (channels averaged) and its sample rate."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return to_mono(audio), rate


def trimmed(audio: np.ndarray) -> np.ndarray:
    """Leading and trailing silence cut by data preparation's rule (quieter than TRIM_DB below the peak)."""
    return trim_silence(audio, TRIM_DB)


def duration_ratio(reference: np.ndarray, synthesized: np.ndarray) -> float:
    return len(trimmed(synthesized)) / max(1, len(trimmed(reference)))


def loudness_ratio(reference: np.ndarray, synthesized: np.ndarray) -> float:
    """RMS of the synthesis over the RMS of the recording (both trimmed): a collapse shows here."""
    rms = [float(np.sqrt(np.mean(np.square(trimmed(a), dtype=np.float64)))) for a in (synthesized, reference)]
    return rms[0] / max(rms[1], 1e-9)


def compare_voices(audios: list[np.ndarray], references: list[np.ndarray], texts: list[str], rate: int,
                   recognizer=None) -> dict[str, float]:
    """Means over utterances of MCD-DTW, duration ratio and loudness ratio against `references`, and,
    with a recognizer, the CER of what it hears against `texts` (every signal at `rate`)."""
    pairs = list(zip(references, audios))
    measures = {"mcd_dtw": float(np.mean([mcd_dtw(r, a, rate) for r, a in pairs])),
                "duration_ratio": float(np.mean([duration_ratio(r, a) for r, a in pairs])),
                "loudness_ratio": float(np.mean([loudness_ratio(r, a) for r, a in pairs]))}
    if recognizer is not None:
        measures["cer"] = float(np.mean([character_error_rate(t, recognizer(a, rate)) for t, a in zip(texts, audios)]))
    return measures


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Levenshtein distance between the strings over the length of the reference."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, start=1):
        current = [i]
        for j, h in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(1, len(reference))


class Recognizer:
    """A local speech-recognition model (a transformers folder) that transcribes audio of any rate."""

    def __init__(self, path: str | Path):
        from transformers import pipeline

        if not Path(path).is_dir():
            raise EvaluationError(f"--asr_model {path} is not a folder: pass a local speech-recognition model")
        try:
            self.pipeline = pipeline("automatic-speech-recognition", model=str(path))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, ImportError) as e:  # whatever the folder lacks
            raise EvaluationError(f"--asr_model {path} is not a speech-recognition model transformers can load "
                                  f"({hub.error_line(e)})") from e

    def __call__(self, audio: np.ndarray, rate: int) -> str:
        from kurdish_tts.text.normalizer import normalize_text

        wanted = self.pipeline.feature_extractor.sampling_rate  # resampled here: transformers would need torchaudio
        audio = resample(audio.astype(np.float32), rate, wanted)
        text = self.pipeline({"raw": audio, "sampling_rate": wanted})["text"]
        return normalize_text(text).text


def check_scorable(metadata: Path, clips: list[Clip], voices: dict, settings) -> None:
    """Before any synthesis: MetadataError, one line that says what to fix, when the clips of `metadata`
    cannot be scored (none listed, a name that is not a bare .wav name inside wavs/, a recording missing or
    unreadable, a text one of `voices` cannot say); SynthesisError when a model has no speaker
    `settings.speaker_id`."""
    from kurdish_tts.synthesis.voice import SynthesisError

    if not clips:
        raise MetadataError(f"{metadata} lists no clips: pass --metadata a file of '<id>.wav|text' lines "
                            "(prepare_data.py writes training/metadata_eval.csv)")
    wavs = Path(metadata).parent / WAVS_DIR
    outside, missing, unreadable = [], [], []
    for clip in clips:
        info, problem, _ = listed_wav(wavs, clip.file)  # the metadata contract: a bare <id>.wav inside wavs/
        if problem == NOT_BARE:
            outside.append(clip.file)
        elif problem == MISSING:
            missing.append(clip.file)
        elif problem or info.frames == 0:  # no samples: nothing to compare a synthesis with
            unreadable.append(clip.file)
    fix = "put the wavs there or remove their lines; the wavs/ folder lies beside the metadata file"
    for files, problem, hint in ((outside, "not named as a bare .wav file inside", ("name each recording as <id>.wav, "
                                  "without a folder, or remove its line")),
                                 (missing, "missing from", fix), (unreadable, "unreadable in", fix)):
        if files:
            raise MetadataError(f"{metadata}: {len(files)} recording{'s' if len(files) > 1 else ''} {problem} {wavs}: "
                                f"{', '.join(files[:3])}{' ...' if len(files) > 3 else ''} ({hint})")
    for name, voice in voices.items():
        try:
            voice.speaker(settings)
        except SynthesisError as e:
            raise SynthesisError(f"{name}: {e}") from e
        for clip in clips:
            try:
                voice.sentences(clip.text)
            except SynthesisError as e:
                raise MetadataError(f"{metadata}: the text of {clip.file} ({clip.text[:40]!r}) has nothing model {name} "
                                    "can say: write what the recording says in the model's alphabet, or remove the line") from e


def naturalness(audio: np.ndarray, rate: int) -> dict[str, float]:
    """ClipScore's DNSMOS fields for `audio`, none for audio too short for DNSMOS."""
    try:
        return {f"dnsmos_{name}": value for name, value in dnsmos(audio, rate).items()}
    except UnscorableAudio:
        return {}


def score_model(voice, name: str, data_dir: Path, clips: list[Clip], seed: int = 0, recognizer=None,
                settings=None, syntheses: dict | None = None, with_dnsmos: bool = False) -> list[ClipScore]:
    """Speak every clip's text with `voice` (a kurdish_tts.synthesis.Voice) and compare with the recording.
    The voice speaks with `settings` (a kurdish_tts.synthesis.Settings; the default voice without them) and,
    when these name no seed, with `seed`: the same scores from run to run. When `syntheses` is given, the
    first clip's synthesis, at its recording's sample rate, is stored in it under `name` (for plot_report).
    `with_dnsmos` adds the synthesis's DNSMOS (about 0.2 s of a core a clip)."""
    from kurdish_tts.synthesis.voice import Settings

    settings = settings or Settings()
    if settings.seed is None:
        settings = replace(settings, seed=seed)
    scores = []
    for clip in clips:
        reference, rate = read_recording(Path(data_dir) / WAVS_DIR / clip.file)
        # a clip of a named voice is spoken with that voice, when the model has it and no voice was asked for
        own = settings.voice is None and settings.speaker_id is None and clip.voice in getattr(voice, "voices", [])
        synthesized = voice.speak(clip.text, replace(settings, voice=clip.voice) if own else settings)
        if rate != voice.sampling_rate:
            synthesized = resample(synthesized, voice.sampling_rate, rate)
        if syntheses is not None and not scores:
            syntheses[name] = synthesized
        cer = character_error_rate(clip.text, recognizer(synthesized, rate)) if recognizer else None
        scores.append(ClipScore(clip.file, name, mcd_dtw(reference, synthesized, rate),
                                duration_ratio(reference, synthesized), cer, loudness_ratio(reference, synthesized),
                                **(naturalness(synthesized, rate) if with_dnsmos else {}), voice=clip.voice if own else ""))
    return scores


def score_recordings(data_dir: Path, clips: list[Clip], recognizer=None) -> list[ClipScore]:
    """The recordings' own DNSMOS and, with a recognizer, CER: what a voice's figures are read beside."""
    scores = []
    for clip in clips:
        recording, rate = read_recording(Path(data_dir) / WAVS_DIR / clip.file)
        cer = character_error_rate(clip.text, recognizer(recording, rate)) if recognizer else None
        scores.append(ClipScore(clip.file, RECORDINGS, None, None, cer, **naturalness(recording, rate)))
    return scores


def summarize(scores: list[ClipScore]) -> dict[str, dict[str, float]]:
    """Per model: mean and median of each measure."""
    summary: dict[str, dict[str, float]] = {}
    for model in dict.fromkeys(s.model for s in scores):
        rows = [s for s in scores if s.model == model]
        entry = {"clips": len(rows)}
        for measure in SUMMARIZED:
            values = [getattr(s, measure) for s in rows if getattr(s, measure) is not None]
            if values:
                entry[f"{measure}_mean"] = float(np.mean(values))
                entry[f"{measure}_median"] = float(np.median(values))
        summary[model] = entry
    return summary


def report_dict(scores: list[ClipScore], recordings: list[ClipScore] = ()) -> dict:
    """report.json: per model (`scores`) a summary and every clip's scores; the recordings' own
    (`score_recordings`), when given, apart under "recordings", as no model's name can clash with them."""
    report = {"summary": summarize(scores), "clips": [asdict(s) for s in scores]}
    if voices := sorted({s.voice for s in scores if s.voice}):  # a multi-voice model on data of several voices
        report["voices"] = {voice: summarize([s for s in scores if s.voice == voice]) for voice in voices}
    if recordings:
        report[RECORDINGS] = {"summary": summarize(recordings)[RECORDINGS], "clips": [asdict(s) for s in recordings]}
    return report


def print_table(summary: dict[str, dict[str, float]], recordings: dict[str, float] | None = None,
                legend: bool = True) -> None:
    """One row per model, the recordings' summary (reference) first; the DNSMOS's references below
    (with `legend`)."""
    print(f"{'model':40s} {'clips':>5s} {'MCD-DTW dB':>11s} {'duration':>9s} {'CER':>6s} {'DNSMOS':>7s}")
    rows = ({"recordings (reference)": recordings} if recordings else {}) | summary
    for model, row in rows.items():
        cells = [f"{row[f'{measure}_mean']:{width}.{places}f}" if f"{measure}_mean" in row else f"{'-':>{width}s}"
                 for measure, width, places in (("mcd_dtw", 11, 2), ("duration_ratio", 9, 2), ("cer", 6, 3),
                                                ("dnsmos_ovrl", 7, 2))]
        print(f"{model[-40:]:40s} {row['clips']:5d} {' '.join(cells)}")
    if legend and any("dnsmos_ovrl_mean" in row for row in rows.values()):
        print(f"DNSMOS: overall quality (OVRL), 1-5, of the audio; for reference: {CALIBRATION}")


def plot_report(scores: list[ClipScore], recording: np.ndarray, syntheses: dict[str, np.ndarray], rate: int) -> bytes:
    """A PNG picture: per-model distributions of MCD-DTW, duration ratio and, where scored, DNSMOS OVRL (the
    recordings' too, when `scores` holds theirs), and one clip's mel spectrogram, the recording against each
    model (every signal at `rate`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(s.model for s in scores))
    panels = [("mcd_dtw", "MCD-DTW (dB), lower is better"), ("duration_ratio", "duration ratio, 1 is best")]
    if any(s.dnsmos_ovrl is not None for s in scores):
        panels.append(("dnsmos_ovrl", "DNSMOS OVRL, higher is better"))
    rows = 1 + len(syntheses)
    figure = plt.figure(figsize=(11, 2.6 * rows + 1))
    grid = figure.add_gridspec(rows + 1, len(panels))
    for column, (measure, label) in enumerate(panels):
        axis = figure.add_subplot(grid[0, column])
        shown = [m for m in models if any(getattr(s, measure) is not None for s in scores if s.model == m)]
        axis.boxplot([[getattr(s, measure) for s in scores if s.model == m and getattr(s, measure) is not None]
                      for m in shown])
        axis.set_xticks(range(1, len(shown) + 1), [Path(m).name or m for m in shown])
        axis.set_title(label)
    for row, (name, audio) in enumerate([("recording", recording), *syntheses.items()], start=1):
        axis = figure.add_subplot(grid[row, :])
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=1024, hop_length=256, n_mels=80))
        axis.imshow(mel, aspect="auto", origin="lower")
        axis.set_title(name)
        axis.set_ylabel("mel bin")
    figure.tight_layout()
    picture = io.BytesIO()
    figure.savefig(picture, format="png", dpi=80)
    plt.close(figure)
    return picture.getvalue()
