#!/usr/bin/env python3
"""Benchmark of the data-preparation stage against a plain one-process loop.

Generates a Common Voice release folder of `--clips` speech-like mp3 clips (44.1 and 48 kHz,
2-5 s, with silence at both ends), then times, in one run:

  loop      a plain loop doing the same work one clip at a time, as a simple script would:
            librosa.load(path, sr=16000) -> trim -> peak-normalise -> normalise text -> soundfile.write
  stage     prepare_data.py with --num_workers (default: all cores)
  stage-1   prepare_data.py with one worker, with decode, resample and write timed inside it,
            to show how much of the stage is spent outside that unavoidable work
  dnsmos    prepare_data.py with --num_workers and --min_dnsmos 1 (every clip scored, none
            dropped): what the DNSMOS filter adds to a clip, beside the stage's own cost

    python bench/bench_prepare.py                # 300 clips
    python bench/bench_prepare.py --clips 100 --num_workers 2
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import prepare_data
from kurdish_tts.corpus import audio
from kurdish_tts.samples.commonvoice import default_rows, write_release


def make_corpus(folder: Path, clips: int) -> Path:
    rng = np.random.default_rng(0)
    rows = [dict(row, seconds=float(rng.uniform(2, 5))) for row in default_rows(clips)]
    half = clips // 2
    write_release(folder / "a", rows[:half], rate=44100)
    write_release(folder / "b", rows[half:], rate=48000)
    # one folder with both halves: move b's clips under distinct names
    merged = folder / "kmr"
    (merged / "clips").mkdir(parents=True)
    lines = []
    for part in ("a", "b"):
        with (folder / part / "validated.tsv").open(encoding="utf-8") as handle:
            table = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
        header, body = table[0], table[1:]
        for row in body:
            name = f"{part}_{row[1]}"
            (folder / part / "clips" / row[1]).rename(merged / "clips" / name)
            row[1] = name
            lines.append(row)
    with (merged / "validated.tsv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar="\\", lineterminator="\n")
        writer.writerow(header)
        writer.writerows(lines)
    return merged


def plain_loop(corpus: Path, out: Path) -> int:
    """The same work, one clip after another, the way a simple script does it."""
    import librosa
    import soundfile as sf

    from kurdish_tts.text.normalizer import normalize_text

    out.mkdir(parents=True)
    kept = 0
    with (corpus / "validated.tsv").open(encoding="utf-8") as handle, \
            (out / "metadata.csv").open("w", encoding="utf-8") as metadata:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            wav, _ = librosa.load(corpus / "clips" / row["path"], sr=16000)
            wav, _ = librosa.effects.trim(wav, top_db=40)
            wav = wav / np.abs(wav).max() * 10 ** (-1 / 20)
            text = normalize_text(row["sentence"]).text
            sf.write(out / f"{kept}.wav", wav, 16000, subtype="PCM_16")
            metadata.write(f"{kept}.wav|{text}\n")
            kept += 1
    return kept


class Stopwatch:
    """Wraps functions of kurdish_tts.audio to add up the time spent in them (one process only)."""

    def __init__(self, names):
        self.total = 0.0
        self.originals = {name: getattr(audio, name) for name in names}

    def __enter__(self):
        for name, function in self.originals.items():
            setattr(audio, name, self.timed(function))
        return self

    def timed(self, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - start
        return wrapper

    def __exit__(self, *exc):
        for name, function in self.originals.items():
            setattr(audio, name, function)


def time_stage(corpus: Path, out: Path, workers: int, *extra: str) -> float:
    start = time.perf_counter()
    code = prepare_data.main(["--dataset", str(corpus), "--output_dir", str(out), "--num_workers", str(workers),
                              "--eval_size", "0", *extra])
    assert code == 0
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--num_workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = make_corpus(tmp / "corpus", args.clips)
        plain_loop(corpus, tmp / "warmup")  # load libraries once so that neither side pays for it
        start = time.perf_counter()
        kept = plain_loop(corpus, tmp / "loop")
        loop_s = time.perf_counter() - start
        stage_s = time_stage(corpus, tmp / "stage", args.num_workers)
        with Stopwatch(["decode", "resample", "write_wav"]) as watch:
            single_s = time_stage(corpus, tmp / "single", 1)
        dnsmos_s = time_stage(corpus, tmp / "dnsmos", args.num_workers, "--min_dnsmos", "1")
    print()
    print(f"clips: {kept} ({args.clips} generated)")
    print(f"plain loop:                 {loop_s:7.2f} s  {kept / loop_s:7.1f} clips/s")
    print(f"prepare_data, {args.num_workers} workers:   {stage_s:7.2f} s  {kept / stage_s:7.1f} clips/s  "
          f"ratio {loop_s / stage_s:.2f}x the loop")
    print(f"prepare_data, 1 worker:     {single_s:7.2f} s  {kept / single_s:7.1f} clips/s; "
          f"decode + resample + write {watch.total:.2f} s, everything else {100 * (1 - watch.total / single_s):.1f}%")
    print(f"prepare_data, {args.num_workers} workers, --min_dnsmos: {dnsmos_s:7.2f} s  {kept / dnsmos_s:7.1f} clips/s  "
          f"ratio {dnsmos_s / stage_s:.2f}x the stage")
    print(f"per clip (wall, {args.num_workers} workers): stage {1000 * stage_s / kept:.0f} ms, with DNSMOS "
          f"{1000 * dnsmos_s / kept:.0f} ms, DNSMOS {1000 * (dnsmos_s - stage_s) / kept:.0f} ms "
          f"({(dnsmos_s - stage_s) / stage_s:.1f}x the stage's own cost)")


if __name__ == "__main__":
    main()
