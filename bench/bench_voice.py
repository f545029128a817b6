#!/usr/bin/env python3
"""Does a voice speak? A model scored on unseen sentences beside references that say what a number means.

On the `heldout` sentences of data/corpus/sentences.tsv (never trained on by the stand-in, the
judge or any fine-tuning), every row is compared with the rendering of the voice the model learnt
(`--voice`: an espeak-ng voice, ku for the espeak-ng stand-in, or a natural speaker of
data/corpus/speakers.json, clean):

    the model                       what is measured
    the voice itself                the judge's floor (MCD 0 by definition)
    a close variant                 espeak-ng ku+m1; for a natural speaker, itself at 1.08 times the pitch
    another voice                   espeak-ng ku+f3; for a natural speaker, nesrin (or berfin): the
                                    model must be closer to its voice than this
    espeak-ng ku                    for a natural speaker: the formant voice
    a natural speaker, clean        a human-like voice (data/corpus/speakers.json, one the judge never heard)
    the same, as Common Voice records it (room, microphone band, noise, level)
    white noise, a harmonic buzz    what a voice that does not speak scores

with MCD-DTW (WORLD + SPTK mel-cepstrum, dB), the judge's character error rate (data/judge/),
the duration ratio, the loudness ratio and DNSMOS OVRL (how natural and clean it sounds: 1-5). It writes a spectrogram picture of one sentence
(espeak-ng beside the model) and exits 1 when the model misses the stand-in's bar: CER above
--max_cer, or an MCD not below the other voice's.

    python bench/bench_voice.py                                  # data/pretrained/model, 1-2 minutes
    python bench/bench_voice.py --model runs/standin/model --picture bench/figures/standin.png
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kurdish_tts.corpus.naturalness import dnsmos
from kurdish_tts.samples import natural
from kurdish_tts.samples.espeak import espeak_version, speak_clean
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import Recognizer, compare_voices
from kurdish_tts.scoring.references import buzz_like, noise_like
from kurdish_tts.synthesis.voice import Settings, Voice

RATE = 16_000
CLOSE_VARIANT, OTHER_VOICE = "ku+m1", "ku+f3"
NATURAL = "zozan"  # a natural speaker the judge never hears


def comparisons(voice: str) -> dict[str, object]:
    """The voice's own row, a close variant and another voice: espeak-ng voice names or natural Speakers."""
    if voice not in natural.speakers():
        return {f"espeak-ng {voice} (the voice itself)": voice,
                f"espeak-ng {CLOSE_VARIANT} (a close variant)": CLOSE_VARIANT,
                f"espeak-ng {OTHER_VOICE} (another voice)": OTHER_VOICE}
    speaker = natural.speaker(voice)
    other = natural.speaker("nesrin" if voice != "nesrin" else "berfin")
    return {f"{voice} clean (the voice itself)": speaker,
            f"{voice} at 1.08 x pitch (a close variant)": replace(speaker, name=f"{voice}-higher", pitch=speaker.pitch * 1.08),
            f"{other.name} clean (another voice)": other,
            "espeak-ng ku (the formant voice)": "ku"}


def model_voice(model: Path) -> str:
    """The voice a stand-in's model learnt, as the build.json in the folder above it names it; ku without one."""
    from bench_learning import learnt_voice

    return learnt_voice(model.parent) if (model.parent / "build.json").is_file() else "ku"


def as_reference(voice: str):
    """A voice name as `rendered` takes it: a natural Speaker, or the espeak-ng voice's name."""
    return natural.speaker(voice) if voice in natural.speakers() else voice


def rendered(voice, sentence: str) -> np.ndarray:
    return speak_clean(sentence, voice) if isinstance(voice, str) else natural.speak(sentence, voice, RATE)


def score_rows(model: Path, voice: str, judge: Path, group: str = "heldout") -> tuple[dict, dict]:
    """-> ({row name: {measure: mean}}, {row name: first sentence's audio})."""
    sentences = read_sentences(group)
    texts = [spoken_text(s) for _, s in sentences]
    compared = {name: [rendered(v, s) for _, s in sentences] for name, v in comparisons(voice).items()}
    references = next(iter(compared.values()))
    synthesizer = Voice(model)
    rng = np.random.default_rng(0)
    speaker = natural.speaker(NATURAL)
    clean = [natural.speak(s, speaker, RATE) for _, s in sentences]
    recorded = [natural.common_voice_record(s, speaker, rng) for _, s in sentences]
    rows = {
        model_row(model): [synthesizer.speak(t, Settings(seed=0)) for t in texts],
        **compared,
        f"natural speaker {NATURAL}, clean": clean,
        f"natural speaker {NATURAL}, Common Voice record": recorded,
        "white noise": [noise_like(r, rng) for r in references],
        "harmonic buzz": [buzz_like(r, RATE) for r in references],
    }
    recognizer = Recognizer(judge)
    table = {name: compare_voices(audios, references, texts, RATE, recognizer) for name, audios in rows.items()}
    for name, audios in rows.items():
        table[name]["dnsmos_ovrl"] = float(np.mean([dnsmos(a, RATE)["ovrl"] for a in audios]))
    return table, {name: audios[0] for name, audios in rows.items()}


def model_row(model: Path) -> str:
    shown = model.resolve().relative_to(ROOT) if model.resolve().is_relative_to(ROOT) else model
    return f"model {shown}"


def draw(first: dict, path: Path, title: str) -> None:
    import librosa
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in first if not n.startswith(("white", "harmonic"))]
    figure, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 * len(names)), sharex=True)
    for axis, name in zip(axes, names):
        mel = librosa.power_to_db(librosa.feature.melspectrogram(y=first[name], sr=RATE, n_fft=1024, hop_length=160,
                                                                 n_mels=80), ref=1.0)
        axis.imshow(mel, aspect="auto", origin="lower", vmin=-80, vmax=20, extent=(0, len(first[name]) / RATE, 0, 80))
        axis.set_title(name, fontsize=9)
        axis.set_ylabel("mel bin")
    axes[-1].set_xlim(0, max(len(first[name]) for name in names) / RATE)  # shared: the longest row in full
    axes[-1].set_xlabel(f"seconds: \"{title}\"")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "pretrained" / "model")
    parser.add_argument("--voice", help="the voice the model learnt: an espeak-ng voice or a natural speaker (default: the "
                                        "one the stand-in's build.json above --model names, else ku)")
    parser.add_argument("--judge", type=Path, default=ROOT / "data" / "judge")
    parser.add_argument("--max_cer", type=float, default=0.25)
    parser.add_argument("--picture", type=Path, default=ROOT / "bench" / "results" / "voice.png")
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "results" / "voice.json")
    args = parser.parse_args(argv)
    args.voice = args.voice or model_voice(args.model)
    table, first = score_rows(args.model, args.voice, args.judge)
    print(f"{len(read_sentences('heldout'))} held-out sentences, against the voice {args.voice}")
    print(f"| {'':44s} | MCD-DTW dB | judge CER | DNSMOS OVRL | duration ratio | loudness ratio |")
    print(f"|{'-' * 46}|-----------:|----------:|------------:|---------------:|---------------:|")
    for name, row in table.items():
        print(f"| {name:44s} | {row['mcd_dtw']:10.2f} | {row['cer']:8.1%} | {row['dnsmos_ovrl']:11.2f} | "
              f"{row['duration_ratio']:14.2f} | {row['loudness_ratio']:14.2f} |")
    draw(first, args.picture, read_sentences("heldout")[0][1])
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps({"voice": args.voice, "espeak_ng": espeak_version(), "rows": table}, indent=2,
                                      ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"picture {args.picture}, figures {args.report}")
    model = table[model_row(args.model)]
    other_name = next(name for name in comparisons(args.voice) if name.endswith("(another voice)"))
    other = table[other_name]["mcd_dtw"]
    failures = []
    if model["cer"] > args.max_cer:
        failures.append(f"judge CER {model['cer']:.1%} is above {args.max_cer:.0%}")
    if model["mcd_dtw"] >= other:
        failures.append(f"MCD-DTW {model['mcd_dtw']:.2f} dB is not below {other_name}'s {other:.2f} dB")
    if failures:
        print(f"the model does not speak well enough yet: {'; '.join(failures)}", file=sys.stderr)
        return 1
    print("the model speaks: its CER and its distance to its voice are within the bar")
    return 0


if __name__ == "__main__":
    sys.exit(main())
