"""Text -> speech with a VITS model folder or hub id, Kurmanji text normalised first.

Long text is split into sentences, the sentences are synthesised in batches, and the
pieces are joined with a short pause, so that punctuation the model cannot say still
shapes the speech.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kurdish_tts import hub
from kurdish_tts.synthesis.engines import (
    NOISE_SCALE,
    NOISE_SCALE_DURATION,
    OnnxEngine,
    TorchEngine,
    is_onnx_folder,
    synthesize_batch,
    synthesize_pieces,
)
from kurdish_tts.text.normalizer import MAX_SENTENCE_CHARS, VERSION_KEY, sentences, version_notice
from kurdish_tts.text.vocabulary import Vocabulary
from kurdish_tts.vits.voices import VoiceError, voice_id, voice_names

PAUSE_S = 0.25  # silence between sentences


class SynthesisError(ValueError):
    """A problem the user can fix (model not found, nothing to say)."""


@dataclass
class Settings:
    """How a voice speaks. Left at None, the speaking rate and the two noise scales are the model
    config's own (`speaking_rate`, `noise_scale`, `noise_scale_duration`: 1.0, 0.667 and 0.8 in MMS)."""

    speaking_rate: float | None = None
    noise_scale: float | None = None
    noise_scale_duration: float | None = None
    speaker_id: int | None = None
    seed: int | None = None
    batch_size: int = 1  # on a CPU, batching sentences only adds padding; on a GPU it pays
    voice: str | None = None  # a voice of a multi-voice model by name (or id): wins over speaker_id


def voice_folder_problem(model: str | Path, hub_ids: bool = True) -> str | None:
    """What keeps `model` from being a voice, in a few words: a folder without its config, its tokenizer's
    vocab.json or its weights (PyTorch's, or an ONNX export's); None for a whole folder or (with `hub_ids`)
    a name that may be a hub id."""
    path = Path(model)
    if (problem := hub.model_folder_problem(path, hub_ids=hub_ids)) or not path.is_dir():
        return problem
    if not (path / "vocab.json").is_file():
        return f"{path} has no vocab.json (the tokenizer's alphabet)"
    if not any((path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")) and not is_onnx_folder(path):
        return f"{path} has no weights (model.safetensors, or an ONNX export's)"
    return None


class Voice:
    """A loaded model with its tokenizer and vocabulary."""

    @classmethod
    def from_model(cls, model, tokenizer, name: str = "model") -> Voice:
        """A voice around a model already in memory (evaluation during training uses this)."""
        voice = cls.__new__(cls)
        voice._setup(TorchEngine(model), model.config, tokenizer, name)
        return voice

    def __init__(self, model_name_or_path: str | Path, device: str = "cpu"):
        """A model folder saved by train_vits.py, a folder exported by `synthesize.py --export_onnx`
        (run with ONNX Runtime), or a hub id."""
        from transformers import VitsConfig, VitsModel, VitsTokenizer
        from transformers.utils.logging import disable_progress_bar

        disable_progress_bar()  # a bar for loading weights hides the one line that matters

        source = str(model_name_or_path)
        path = Path(source)
        problem = voice_folder_problem(path)
        if problem:
            raise SynthesisError(f"{problem}: pass a folder saved by train_vits.py")
        if not path.exists() and ("/" not in source or source.startswith((".", "/"))):
            raise SynthesisError(f"model {source} not found: pass a model folder such as models/kurdish or a hub id")
        if path.is_dir() and is_onnx_folder(path):
            engine, config = OnnxEngine(path), VitsConfig.from_pretrained(source)
        else:
            try:
                hub.require(source)
            except hub.HubUnreachable as e:
                raise SynthesisError(str(e)) from e
            model = VitsModel.from_pretrained(source).to(device)
            engine, config = TorchEngine(model), model.config
        self._setup(engine, config, VitsTokenizer.from_pretrained(source), source)

    def _setup(self, engine, config, tokenizer, name: str) -> None:
        self.engine, self.config, self.tokenizer = engine, config, tokenizer
        self.vocabulary = Vocabulary(dict(tokenizer.get_vocab()), name)
        self.sampling_rate = config.sampling_rate

    def sentences(self, text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
        """Speakable sentences of `text`, none longer than `max_chars` (longer ones are cut at commas,
        else between words); SynthesisError when nothing in it can be said."""
        if not text.strip():
            raise SynthesisError("the text is empty: give --text, --text_file or text on standard input")
        pieces = [piece.text for piece in sentences(text, self.vocabulary.characters, max_chars) if piece.text]
        if not pieces:
            raise SynthesisError(f"nothing in {text[:40]!r} can be said with this model's alphabet")
        return pieces

    @property
    def voices(self) -> list[str]:
        """The model's voices by speaker id ([] for a one-voice model)."""
        return voice_names(self.config)

    def speaker(self, settings: Settings) -> int | None:
        """The speaker id `settings` asks for, by --voice name or --speaker_id (voice 0 of a
        multi-voice model by default, None for a one-voice model); SynthesisError listing the voices
        when this model has no such voice."""
        chosen = settings.voice if settings.voice is not None else settings.speaker_id
        try:
            return voice_id(self.config, chosen)
        except VoiceError as e:
            raise SynthesisError(str(e)) from e

    def scales(self, settings: Settings) -> tuple[float, float, float]:
        """(noise scale, duration noise scale, speaking rate): the settings', else the model config's."""
        defaults = (getattr(self.config, "noise_scale", NOISE_SCALE),
                    getattr(self.config, "noise_scale_duration", NOISE_SCALE_DURATION),
                    getattr(self.config, "speaking_rate", 1.0))
        given = (settings.noise_scale, settings.noise_scale_duration, settings.speaking_rate)
        return tuple(float(default if value is None else value) for value, default in zip(given, defaults))

    def speak(self, text: str, settings: Settings | None = None) -> np.ndarray:
        """One utterance: float32 mono audio at `self.sampling_rate` (the default settings when none are given)."""
        settings = settings or Settings()
        sentences = self.sentences(text)
        speaker_id = self.speaker(settings)
        rng = np.random.default_rng(settings.seed)  # all the noise of the utterance: same seed, same audio
        pieces = []
        for start in range(0, len(sentences), settings.batch_size):
            inputs = self.tokenizer(sentences[start:start + settings.batch_size], return_tensors="np", padding=True)
            pieces += synthesize_batch(self.engine, self.config, inputs["input_ids"], inputs["attention_mask"], rng,
                                       *self.scales(settings),
                                       speaker_id)
        pause = np.zeros(int(PAUSE_S * self.sampling_rate), dtype=np.float32)
        joined = [x for piece in pieces for x in (piece, pause)][:-1]
        return np.concatenate(joined).astype(np.float32)

    def pieces(self, text: str, settings: Settings | None = None):
        """`speak`'s audio as it is made, in pieces (a generator of float32 arrays): each sentence's
        decoder runs on overlapping stretches of its latents, a short one first, so that the first
        audio of a long sentence comes long before the sentence is done. Joined, the pieces are
        `speak`'s audio for batch size 1 (to float precision). An ONNX export made before the flow and
        the decoder were exported apart gives a sentence a piece."""
        settings = settings or Settings()
        sentences = self.sentences(text)
        speaker_id = self.speaker(settings)
        rng = np.random.default_rng(settings.seed)  # drawn from in speak's order: the same audio
        pause = np.zeros(int(PAUSE_S * self.sampling_rate), dtype=np.float32)
        for index, sentence in enumerate(sentences):
            inputs = self.tokenizer(sentence, return_tensors="np")
            yield from synthesize_pieces(self.engine, self.config, inputs["input_ids"], inputs["attention_mask"], rng,
                                         *self.scales(settings), speaker_id)
            if index < len(sentences) - 1:
                yield pause


def normalizer_notice(model: str | Path) -> str | None:
    """A notice when a model folder's card says its training text was normalised by another version of
    the text normaliser than the one it will now be spoken with (a card of this toolkit without a
    version is version 1); None for models without such a card (MMS from the hub)."""
    card = Path(model) / "README.md"
    try:
        text = card.read_text(encoding="utf-8") if card.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return None
    recorded = hub.card_value(text, VERSION_KEY)
    if recorded is None and "synthesize.py" not in text:
        return None
    try:
        version = int(recorded) if recorded is not None else None
    except ValueError:
        return None
    return version_notice(version, f"the training text of {model}")
