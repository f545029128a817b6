"""Training data: clips from `wavs/` + a metadata file, batched by length.

Clips of similar duration go into the same batch, so that little of each batch is padding;
an optional weight per clip makes some clips drawn more often than others (feedback clips
weigh more than the bulk data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from kurdish_tts.corpus.metadata import WAVS_DIR, Clip

BUCKET_WINDOW = 50  # batches whose clips are sorted by length together


@dataclass
class Batch:
    input_ids: torch.Tensor  # [B, T_text] token ids with the tokenizer's blanks, 0-padded
    attention_mask: torch.Tensor  # [B, T_text] 1 for tokens
    waveforms: torch.Tensor  # [B, samples] float, zero-padded; lengths are multiples of the hop
    waveform_lengths: torch.Tensor  # [B] samples
    speaker_ids: torch.Tensor | None  # [B] for multi-speaker models
    clip_ids: list[str]

    def to(self, device) -> Batch:
        move = lambda x: None if x is None else x.to(device)
        return Batch(move(self.input_ids), move(self.attention_mask), move(self.waveforms),
                     move(self.waveform_lengths), move(self.speaker_ids), self.clip_ids)

    def __len__(self) -> int:
        return len(self.clip_ids)


class TtsDataset(torch.utils.data.Dataset):
    """(wav, token ids) pairs for `clips` inside `data_dir/wavs`."""

    def __init__(self, data_dir: Path, clips: list[Clip], tokenizer, sample_rate: int, hop_length: int,
                 speaker_ids: list[int] | None = None):
        self.wavs = Path(data_dir) / WAVS_DIR
        self.clips = clips
        self.tokenizer = tokenizer
        self.sample_rate = sample_rate
        self.hop_length = hop_length
        self.speaker_ids = speaker_ids
        # Frame counts from the headers only: no audio decoded to plan the batches.
        self.samples = [sf.info(str(self.wavs / clip.file)).frames for clip in clips]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict:
        clip = self.clips[index]
        audio, rate = sf.read(str(self.wavs / clip.file), dtype="float32")
        if rate != self.sample_rate:
            raise ValueError(f"{clip.file} is {rate} Hz, the model wants {self.sample_rate}: re-run prepare_data.py")
        audio = audio[: len(audio) // self.hop_length * self.hop_length]
        ids = self.tokenizer(clip.text).input_ids
        return {"input_ids": torch.tensor(ids, dtype=torch.long), "waveform": torch.from_numpy(audio),
                "speaker_id": None if self.speaker_ids is None else self.speaker_ids[index], "clip_id": clip.id}


def collate(items: list[dict]) -> Batch:
    text_length = max(len(item["input_ids"]) for item in items)
    samples = max(len(item["waveform"]) for item in items)
    input_ids = torch.zeros((len(items), text_length), dtype=torch.long)  # padding: masked out
    attention_mask = torch.zeros((len(items), text_length), dtype=torch.long)
    waveforms = torch.zeros((len(items), samples))
    for i, item in enumerate(items):
        input_ids[i, : len(item["input_ids"])] = item["input_ids"]
        attention_mask[i, : len(item["input_ids"])] = 1
        waveforms[i, : len(item["waveform"])] = item["waveform"]
    lengths = torch.tensor([len(item["waveform"]) for item in items])
    speakers = None if items[0]["speaker_id"] is None else torch.tensor([item["speaker_id"] for item in items])
    return Batch(input_ids, attention_mask, waveforms, lengths, speakers, [item["clip_id"] for item in items])


class LengthBucketSampler(torch.utils.data.Sampler):
    """Batches of similar-length clips, in a shuffled order that `set_epoch` changes reproducibly.

    With `weights`, each epoch first draws len(lengths) clips with replacement, clip i with
    probability weights[i] / sum(weights), then buckets the draw: a clip of weight 5 is seen
    five times as often as a clip of weight 1.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, weights: list[float] | None = None):
        if weights is not None and (len(weights) != len(lengths) or min(weights) < 0 or sum(weights) <= 0):
            raise ValueError("weights must be one non-negative number per clip, not all zero")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.weights is None:
            order = rng.permutation(len(self.lengths))
        else:
            order = rng.choice(len(self.lengths), size=len(self.lengths), p=self.weights / self.weights.sum())
        window = self.batch_size * BUCKET_WINDOW
        batches = []
        for start in range(0, len(order), window):
            chunk = order[start:start + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __iter__(self):
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
