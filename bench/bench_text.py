#!/usr/bin/env python3
"""Speed of the text normaliser: --lines lines (default 10,000) normalised, beside the MMS tokenizer.

The lines mix the corpus's sentences (data/corpus/sentences.tsv: plain words) with sentences
carrying what the normaliser reads out (numbers, times, dates, currencies, units, abbreviations,
phone numbers, Roman numerals, URLs, emoji), one in three. In one run it times:

  normalize_text   each line as one piece (what prepare_data.py and the feedback intake do)
  sentences        each line split into speakable sentences (what synthesize.py and serve.py do)
  tokenizer        the MMS Kurmanji tokenizer (transformers' VitsTokenizer) on the normalised lines:
                   the step after, which every stage pays anyway

and prints lines a second and each time as a ratio to the tokenizer's.

    python bench/bench_text.py
    python bench/bench_text.py --lines 2000 --repeats 5
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from kurdish_tts.text.normalizer import normalize_text, sentences
from kurdish_tts.text.vocabulary import build_tokenizer, builtin_vocabulary

WRITTEN = ["Di 14:30 de em ê li Amedê bin.", "Bihayê wê 3,50 € û 12 $ e.", "Sedsala XXI. sedsala zanînê ye.",
           "Dr. Kamuran Bedirxan di 1.12.2026 de hat, û hwd.", "Ji 1990-2000 li vir jiyan.", "Rê 90 km/h ye, 3 km.",
           "Tel: 0532 123 45 67 an +90 412 223 34 45.", "Germahî −5 °C bû; 1/2 an ¾.", "Binêre https://rudaw.net 😀 #Kurdî",
           "No. 5 di r. 45 de ye. Beşa IV baş e.", "1.000.000 kes, ji sedî 20 an 20%."]


def corpus_lines(count: int) -> list[str]:
    rows = [line.rstrip("\n").split("\t") for line in (ROOT / "data" / "corpus" / "sentences.tsv").open(encoding="utf-8")]
    plain = [row[-1] for row in rows[1:] if row[-1].strip()]
    rng = random.Random(0)
    return [rng.choice(WRITTEN) if i % 3 == 0 else rng.choice(plain) for i in range(count)]


def best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="the best of this many runs is reported")
    args = parser.parse_args(argv)
    lines = corpus_lines(args.lines)
    vocabulary = builtin_vocabulary()
    characters = vocabulary.characters
    tokenizer = build_tokenizer(vocabulary)
    normalize_text(lines[0], characters)  # the abbreviation table read once, outside the timing
    spoken = [normalize_text(line, characters).text for line in lines]
    timings = {
        "normalize_text": best_of(args.repeats, lambda: [normalize_text(line, characters) for line in lines]),
        "sentences": best_of(args.repeats, lambda: [sentences(line, characters) for line in lines]),
        "tokenizer": best_of(args.repeats, lambda: [tokenizer(text) for text in spoken]),
    }
    print(f"{args.lines} lines ({sum(map(len, lines)) / 1e3:.0f} k characters), best of {args.repeats}:")
    print(f"{'':16s} {'seconds':>8s} {'lines/s':>9s} {'x tokenizer':>12s}")
    for name, seconds in timings.items():
        print(f"{name:16s} {seconds:8.3f} {args.lines / seconds:9.0f} {seconds / timings['tokenizer']:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
