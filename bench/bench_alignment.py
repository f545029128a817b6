#!/usr/bin/env python3
"""Benchmark of the monotonic alignment search: the numba kernel against plain NumPy.

The NumPy version is the same dynamic programme written the way a NumPy user would: one
Python loop over frames, vectorised over the batch and the tokens. Both must give identical
paths; the numba kernel's first call (compilation, cached on disk afterwards) is timed apart.

    python bench/bench_alignment.py
    python bench/bench_alignment.py --batch 4 --tokens 200 --frames 600 --repeats 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from kurdish_tts.vits.alignment import maximum_path

NEG_INF = -1e9


def maximum_path_numpy(values: np.ndarray, text_lengths: np.ndarray, frame_lengths: np.ndarray) -> np.ndarray:
    batch, tokens, frames = values.shape
    token_index = np.arange(tokens)[None, :]
    valid = (token_index < text_lengths[:, None])
    scores = np.full((batch, tokens, frames), NEG_INF, dtype=np.float32)
    scores[:, 0, 0] = values[:, 0, 0]
    for f in range(1, frames):
        stay = scores[:, :, f - 1]
        advance = np.concatenate([np.full((batch, 1), NEG_INF, np.float32), scores[:, :-1, f - 1]], axis=1)
        reachable = valid & (token_index <= f)
        scores[:, :, f] = np.where(reachable, np.maximum(stay, advance) + values[:, :, f], NEG_INF)
    paths = np.zeros((batch, tokens, frames), dtype=np.int32)
    for b in range(batch):
        t = text_lengths[b] - 1
        for f in range(frame_lengths[b] - 1, -1, -1):
            paths[b, t, f] = 1
            if t > 0 and (t == f or scores[b, t, f - 1] < scores[b, t - 1, f - 1]):
                t -= 1
    return paths


def timed(function, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=200, help="text tokens, blanks included")
    parser.add_argument("--frames", type=int, default=600, help="spectrogram frames (600 = 9.6 s)")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    values = rng.standard_normal((args.batch, args.tokens, args.frames)).astype(np.float32)
    text_lengths = np.linspace(args.tokens // 2, args.tokens, args.batch).astype(np.int32)
    frame_lengths = np.linspace(args.frames // 2, args.frames, args.batch).astype(np.int32)
    frame_lengths = np.maximum(frame_lengths, text_lengths)
    start = time.perf_counter()
    numba_paths = maximum_path(values, text_lengths, frame_lengths)
    first_call = time.perf_counter() - start
    # Compare each utterance on its own, inside its lengths.
    for b in range(args.batch):
        t, f = text_lengths[b], frame_lengths[b]
        assert np.array_equal(numba_paths[b, :t, :f], maximum_path_numpy(values[b:b + 1, :t, :f], text_lengths[b:b + 1],
                                                                         frame_lengths[b:b + 1])[0]), f"paths differ at {b}"
    numba_s = timed(lambda: maximum_path(values, text_lengths, frame_lengths), args.repeats)
    numpy_s = timed(lambda: maximum_path_numpy(values, text_lengths, frame_lengths), max(1, args.repeats // 5))
    print(f"batch {args.batch}, {args.tokens} tokens, {args.frames} frames: identical paths")
    print(f"numba first call (compile or load cache): {first_call * 1000:8.1f} ms")
    print(f"numba:                                    {numba_s * 1000:8.2f} ms")
    print(f"numpy:                                    {numpy_s * 1000:8.2f} ms   numba is {numpy_s / numba_s:.0f}x faster")


if __name__ == "__main__":
    main()
