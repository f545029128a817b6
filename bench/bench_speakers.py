#!/usr/bin/env python3
"""Are the natural speakers distinct voices, and natural? Each speaker of data/corpus/speakers.json
says the same held-out sentences; for each: the median pitch (WORLD DIO + StoneMask), its nearest
other speaker by MCD-DTW (WORLD + SPTK mel-cepstrum, dB) on the same sentences, DNSMOS OVRL, and
the seconds of compute a second of speech takes. For scale: on this MCD a close variant of one
espeak-ng voice measures 5.8 dB and another espeak-ng voice 13.5 dB (BENCHMARKS.md, calibration),
but Kokoro's voices share one model's timing and smoothness, and two of its own styles lie only
about 4.3 dB apart: read the distances beside each other and beside the pitch.

    python bench/bench_speakers.py                      # 5 sentences, about 3 minutes on 2 cores
    python bench/bench_speakers.py --sentences 2
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from kurdish_tts.corpus.naturalness import dnsmos
from kurdish_tts.samples import natural
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import mcd_dtw

ROOT = Path(__file__).resolve().parents[1]
RATE = 16_000


def median_pitch(audios: list[np.ndarray]) -> float:
    import pyworld

    f0 = np.concatenate([pyworld.stonemask(a.astype(np.float64), *pyworld.dio(a.astype(np.float64), RATE), RATE)
                         for a in audios])
    return float(np.median(f0[f0 > 0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=5, help="held-out sentences each speaker says")
    parser.add_argument("--report", type=Path, default=ROOT / "bench" / "results" / "speakers.json")
    args = parser.parse_args(argv)
    texts = [s for _, s in read_sentences("heldout")[: args.sentences]]
    speakers = natural.speakers()
    audio, rows = {}, {}
    for name, speaker in speakers.items():
        started = time.perf_counter()
        audio[name] = [natural.speak(t, speaker, RATE) for t in texts]
        seconds = sum(len(a) for a in audio[name]) / RATE
        rows[name] = {"sex": speaker.sex, "compute_per_second": (time.perf_counter() - started) / seconds,
                      "pitch_hz": median_pitch(audio[name]),
                      "dnsmos_ovrl": float(np.mean([dnsmos(a, RATE)["ovrl"] for a in audio[name]]))}
    names = list(speakers)
    distance = np.full((len(names), len(names)), np.inf)
    for i, j in itertools.combinations(range(len(names)), 2):
        distance[i, j] = distance[j, i] = np.mean([mcd_dtw(a, b, RATE) for a, b in zip(audio[names[i]], audio[names[j]])])
    print(f"{len(texts)} held-out sentences each")
    print("| speaker | sex | roles | median pitch Hz | nearest speaker | MCD-DTW dB | DNSMOS OVRL | compute s/s |")
    print("|---|---|---|---:|---|---:|---:|---:|")
    for i, name in enumerate(names):
        nearest = int(np.argmin(distance[i]))
        rows[name] |= {"nearest": names[nearest], "nearest_mcd_dtw": float(distance[i, nearest])}
        row = rows[name]
        print(f"| {name} | {row['sex']} | {', '.join(speakers[name].roles)} | {row['pitch_hz']:.0f} | {row['nearest']} | "
              f"{row['nearest_mcd_dtw']:.2f} | {row['dnsmos_ovrl']:.2f} | {row['compute_per_second']:.2f} |")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    closest = min(rows[n]["nearest_mcd_dtw"] for n in names)
    print(f"the closest two speakers lie {closest:.2f} dB apart; figures in {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
