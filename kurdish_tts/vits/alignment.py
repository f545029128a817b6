"""Monotonic alignment search (MAS): the most likely monotonic path from text tokens to frames.

VITS learns its alignment without labels: at every step it finds, by dynamic programming,
the assignment of spectrogram frames to text tokens (each frame to one token, tokens in
order, each token at least one frame) that maximises the prior log-likelihood of the
latent frames. This is a numba kernel, parallel over the batch, with no build step.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

NEG_INF = -1e9


@numba.njit(cache=True)
def _path_one(values: np.ndarray, text_length: int, frame_length: int, path: np.ndarray) -> None:
    """Fill `path[:text_length, :frame_length]` for one utterance; `values` is overwritten."""
    # Forward pass: values[t, f] becomes the best score of a path ending at token t, frame f.
    for f in range(frame_length):
        # token t can only be reached at frame f if t <= f and the other tokens fit afterwards
        lowest = max(0, text_length + f - frame_length)
        highest = min(text_length, f + 1)
        for t in range(lowest, highest):
            if f == 0:
                previous = 0.0 if t == 0 else NEG_INF
            else:
                stay = values[t, f - 1] if t < f else NEG_INF
                advance = values[t - 1, f - 1] if t > 0 else NEG_INF
                previous = max(stay, advance)
            values[t, f] += previous
    # Backward pass: from the last token at the last frame, step back.
    t = text_length - 1
    for f in range(frame_length - 1, -1, -1):
        path[t, f] = 1
        if t > 0 and (t == f or values[t, f - 1] < values[t - 1, f - 1]):
            t -= 1


@numba.njit(parallel=True, cache=True)
def _path_batch(values, text_lengths, frame_lengths, paths):
    for b in numba.prange(values.shape[0]):
        _path_one(values[b], text_lengths[b], frame_lengths[b], paths[b])


def maximum_path(log_likelihood: np.ndarray, text_lengths: np.ndarray, frame_lengths: np.ndarray) -> np.ndarray:
    """float32 [B, T_text, T_frames] -> int32 0/1 path of the same shape, zero outside the lengths.

    Each utterance needs frame_length >= text_length (every token gets at least one frame);
    a shorter one raises ValueError.
    """
    text_lengths = np.ascontiguousarray(text_lengths, dtype=np.int32)
    frame_lengths = np.ascontiguousarray(frame_lengths, dtype=np.int32)
    if np.any(frame_lengths < text_lengths):
        b = int(np.argmax(frame_lengths < text_lengths))
        raise ValueError(f"utterance {b} has {frame_lengths[b]} frames for {text_lengths[b]} tokens: "
                         f"its audio is too short for its text")
    values = np.array(log_likelihood, dtype=np.float32, copy=True)
    paths = np.zeros(values.shape, dtype=np.int32)
    _path_batch(values, text_lengths, frame_lengths, paths)
    return paths


def monotonic_alignment_search(log_likelihood: torch.Tensor, text_mask: torch.Tensor,
                               frame_mask: torch.Tensor) -> torch.Tensor:
    """[B, T_text, T_frames] log-likelihood + masks [B, T_text], [B, T_frames] -> 0/1 path (float,
    on the input's device). Computed in fp32 on the CPU without gradient."""
    with torch.no_grad():
        values = log_likelihood.detach().float().cpu().numpy()
        text_lengths = text_mask.reshape(text_mask.shape[0], -1).sum(1).cpu().numpy()
        frame_lengths = frame_mask.reshape(frame_mask.shape[0], -1).sum(1).cpu().numpy()
        path = maximum_path(values, text_lengths, frame_lengths)
    return torch.from_numpy(path).to(device=log_likelihood.device, dtype=torch.float32)
