"""Text -> speech with a VITS model folder or hub id, Kurmanji text normalised first.

Long text is split into sentences, the sentences are synthesised in batches, and the
pieces are joined with a short pause, so that punctuation the model cannot say still
shapes the speech.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kurdish_tts import hub
from kurdish_tts.text import normalize_text
from kurdish_tts.vocabulary import Vocabulary

SENTENCE_END = re.compile(r"(?<=[.!?…;:])\s+|\n+")
PAUSE_S = 0.25  # silence between sentences


class SynthesisError(ValueError):
    """A problem the user can fix (model not found, nothing to say)."""


@dataclass
class Settings:
    speaking_rate: float = 1.0
    noise_scale: float = 0.667
    noise_scale_duration: float = 0.8
    speaker_id: int | None = None
    seed: int | None = None
    batch_size: int = 8


class Voice:
    """A loaded model with its tokenizer and vocabulary."""

    @classmethod
    def from_model(cls, model, tokenizer, name: str = "model") -> "Voice":
        """A voice around a model already in memory (the trainer's evaluation uses this)."""
        voice = cls.__new__(cls)
        voice.model, voice.tokenizer = model, tokenizer
        voice.vocabulary = Vocabulary(dict(tokenizer.get_vocab()), name)
        voice.sampling_rate = model.config.sampling_rate
        voice.device = next(model.parameters()).device
        return voice

    def __init__(self, model_name_or_path: str | Path, device: str = "cpu"):
        from transformers import VitsModel, VitsTokenizer
        from transformers.utils.logging import disable_progress_bar

        disable_progress_bar()  # a bar for loading weights hides the one line that matters

        source = str(model_name_or_path)
        path = Path(source)
        if path.exists() and not (path / "config.json").is_file():
            raise SynthesisError(f"{path} is not a model folder (no config.json): pass a folder saved by train_vits.py")
        if not path.exists() and ("/" not in source or source.startswith((".", "/"))):
            raise SynthesisError(f"model {source} not found: pass a model folder such as models/kurdish or a hub id")
        try:
            hub.require(source)
        except hub.HubUnreachable as e:
            raise SynthesisError(str(e)) from e
        self.model = VitsModel.from_pretrained(source).to(device).eval()
        self.tokenizer = VitsTokenizer.from_pretrained(source)
        self.vocabulary = Vocabulary(dict(self.tokenizer.get_vocab()), source)
        self.sampling_rate = self.model.config.sampling_rate
        self.device = device

    def sentences(self, text: str) -> list[str]:
        """Speakable sentences of `text`; SynthesisError when nothing in it can be said."""
        if not text.strip():
            raise SynthesisError("the text is empty: give --text, --text_file or text on standard input")
        pieces = [normalize_text(part, self.vocabulary.characters).text for part in SENTENCE_END.split(text)]
        pieces = [p for p in pieces if p]
        if not pieces:
            raise SynthesisError(f"nothing in {text[:40]!r} can be said with this model's alphabet")
        return pieces

    @torch.no_grad()
    def speak(self, text: str, settings: Settings = Settings()) -> np.ndarray:
        """One utterance: float32 mono audio at `self.sampling_rate`."""
        sentences = self.sentences(text)
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        self.model.speaking_rate = settings.speaking_rate
        self.model.noise_scale = settings.noise_scale
        self.model.noise_scale_duration = settings.noise_scale_duration
        pieces = []
        for start in range(0, len(sentences), settings.batch_size):
            chunk = sentences[start:start + settings.batch_size]
            inputs = self.tokenizer(chunk, return_tensors="pt", padding=True).to(self.device)
            speaker = None
            if settings.speaker_id is not None:
                if self.model.config.num_speakers <= 1:
                    raise SynthesisError("--speaker_id needs a multi-speaker model; this one has one voice")
                speaker = settings.speaker_id
            output = self.model(**inputs, speaker_id=speaker)
            for waveform, length in zip(output.waveform, output.sequence_lengths):
                pieces.append(waveform[: int(length)].float().cpu().numpy())
        pause = np.zeros(int(PAUSE_S * self.sampling_rate), dtype=np.float32)
        joined = [x for piece in pieces for x in (piece, pause)][:-1]
        return np.concatenate(joined).astype(np.float32)
