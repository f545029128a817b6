"""A voice for other runtimes: a sherpa-onnx VITS folder, a piper voice.

sherpa-onnx (Android's TTS engine, iOS, Raspberry Pi, C/C++/Java/Swift/Python) runs a VITS model as
one ONNX graph with the original VITS export's inputs, `x` (token ids [1, T]), `x_length`,
`noise_scale`, `length_scale`, `noise_scale_w` (and `sid` for several voices), drawing its noise
inside the graph, and output `y`. Its "characters" front end turns text into ids from `tokens.txt`
(one `<character> <id>` a line; the space as its id alone). What it does to text, read from its
source (sherpa-onnx/csrc/offline-tts-character-frontend.cc) and checked in tests/test_runtimes.py:

- it lower-cases ASCII only, so the capitals Ç Ş Ê Î Û are listed with their small letters' ids;
- it skips characters tokens.txt lacks (digits, most punctuation) and splits sentences at . : ? !;
- with `add_blank` it puts the blank (`blank_id`, MMS's id 0) before and after every character, as
  MMS's tokenizer does, and with `use_eos_bos` (its default) it adds `bos_id`/`eos_id` (0) at both
  ends: the export sets it to 0, so the model gets exactly the toolkit's ids;
- without `frontend` in the model's metadata it loads the model and says nothing at all.

It does not run the Kurmanji normaliser: an app passes normalised text (`synthesize.py
--normalize_only`) or numbers and symbols are not spoken.

piper (Linux desktops, Speech Dispatcher, Home Assistant through wyoming-piper) runs `voice.onnx`
with inputs `input`, `input_lengths`, `scales` ([noise, length, noise_w]) and `sid`, and reads
`voice.onnx.json`. In its "text" mode it speaks the code points of the text decomposed (NFD), one
sentence, without lower-casing, each mapped by `phoneme_id_map` and followed by the `_` ids, after
the `^` ids and before the `$` ids: with `"^": [], "_": [0], "$": []` that is MMS's blank-interspersed
sequence. NFD writes ç ş ê î û as a base letter and a combining mark, while MMS's vocabulary has the
precomposed letters: the map gives each mark an id of its own beyond the vocabulary, and the graph
(`PiperGraph`) first folds "base, blank, mark" back into the precomposed letter's id, so that the
model gets exactly the toolkit's ids. Capitals are mapped to their small letters' ids. piper scales
its output to full range unless `normalize_audio` is off.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kurdish_tts.files import staged_folder
from kurdish_tts.synthesis.engines import (
    CALIBRATION_SENTENCES,
    MIN_TOKENS,
    NOISE_SCALE,
    NOISE_SCALE_DURATION,
    DurationsToAudio,
    TextToDurations,
    _export,
    expand_prior,
    quantize_decoder_convolutions,
)
from kurdish_tts.vits.voices import voice_names

SHERPA_MODEL, SHERPA_TOKENS = "model.onnx", "tokens.txt"
PIPER_MODEL = "voice.onnx"  # and voice.onnx.json
# NFD's combining marks in Kurmanji's letters, each given the id vocabulary size + its index here.
MARKS = ("\u0327", "\u0302")  # cedilla (ç ş), circumflex (ê î û)
EXPORT_RECORD = "export.json"  # what a folder was exported for: the runtime, the model it came from


class OneGraph(nn.Module):
    """Synthesis as one graph with the noise drawn inside it: the original VITS export's inputs."""

    def __init__(self, model):
        super().__init__()
        self.encoder, self.decoder = TextToDurations(model), DurationsToAudio(model)

    def forward(self, x, x_length, noise_scale, length_scale, noise_scale_w, sid=None):
        mask = (torch.arange(x.shape[1], device=x.device).unsqueeze(0) < x_length.unsqueeze(1)).to(torch.int64)
        duration_noise = torch.randn_like(x.unsqueeze(1).expand(-1, 2, -1).to(torch.float32)) * noise_scale_w
        durations, means, log_std = self.encoder(x, mask, duration_noise, length_scale, sid)
        total = torch.clamp(torch.max(torch.sum(durations * mask.to(durations.dtype), dim=1)), min=1.0)
        frames = torch.arange(total.to(torch.int64), device=x.device).to(durations.dtype)
        means, log_std, frame_mask = expand_prior(durations, means, log_std, mask, frames)
        latents = means + torch.randn_like(means) * noise_scale * torch.exp(log_std)
        return self.decoder.render(latents, frame_mask, self.decoder.speaker(sid)).unsqueeze(1)  # [B, 1, samples]


class PiperGraph(nn.Module):
    """piper's inputs; combining marks folded into the precomposed letters first (batch 1)."""

    def __init__(self, model, vocabulary: dict[str, int]):
        super().__init__()
        self.one = OneGraph(model)
        self.size = model.config.vocab_size
        table = torch.arange(self.size).unsqueeze(1).repeat(1, len(MARKS))  # [V, marks]: the base, by default
        for token, index in vocabulary.items():
            parts = unicodedata.normalize("NFD", token)
            if len(token) == 1 and len(parts) == 2 and parts[1] in MARKS and parts[0] in vocabulary:
                table[vocabulary[parts[0]], MARKS.index(parts[1])] = index
        self.register_buffer("composed", table)

    def fold(self, x, lengths):
        """piper's ids [1, T] -> MMS's ids [1, T'] and their count: "base, blank, mark" becomes the
        precomposed letter's id."""
        is_mark = x >= self.size
        no = torch.zeros_like(is_mark[:, :2])
        mark_ahead = torch.cat([is_mark[:, 2:], no], dim=1)  # the mark two places on: base, blank, mark
        which = torch.clamp(torch.cat([x[:, 2:], torch.zeros_like(x[:, :2])], dim=1) - self.size, 0, len(MARKS) - 1)
        folded = torch.where(mark_ahead, self.composed[torch.clamp(x, 0, self.size - 1), which], x)
        keep = ~(is_mark | torch.cat([is_mark[:, 1:], no[:, :1]], dim=1))  # the mark and the blank before it go
        keep = keep & (torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.unsqueeze(1))
        return folded[keep].unsqueeze(0), torch.sum(keep.to(torch.int64), dim=1)

    def forward(self, input, input_lengths, scales, sid=None):
        ids, length = self.fold(input, input_lengths)  # piper sends one sentence at a time: batch 1
        return self.one(ids, length, scales[0:1], scales[1:2], scales[2:3], sid)


def piper_config(config, tokenizer) -> dict:
    """voice.onnx.json: text mode, MMS's blank-interspersed ids, the marks, capitals, the voices."""
    vocabulary = dict(tokenizer.get_vocab())
    ids: dict[str, list[int]] = {"^": [], "_": [tokenizer.pad_token_id or 0], "$": []}
    for token, index in vocabulary.items():
        if len(token) != 1:
            continue
        for form in (token, token.upper()):  # piper does not lower-case; NFD never yields a precomposed one
            if len(form) == 1:
                ids.setdefault(form, [index])
    for position, mark in enumerate(MARKS):
        ids[mark] = [config.vocab_size + position]
    names = voice_names(config)
    return {"audio": {"sample_rate": config.sampling_rate, "quality": "medium"}, "espeak": {"voice": "ku"},
            "language": {"code": "kmr"}, "phoneme_type": "text", "phoneme_map": {}, "phoneme_id_map": ids,
            "num_symbols": config.vocab_size + len(MARKS), "num_speakers": max(1, config.num_speakers),
            "speaker_id_map": {name: i for i, name in enumerate(names)},
            "inference": {"noise_scale": NOISE_SCALE, "length_scale": 1.0, "noise_w": NOISE_SCALE_DURATION},
            "piper_version": "1.0.0"}


def export_piper(model, tokenizer, output: Path, model_card: Path | None = None, source: str = "",
                 opset: int = 17) -> Path:
    """Write a piper voice folder: voice.onnx (`PiperGraph`), voice.onnx.json, the model's config and
    card, export.json. Appears whole or not at all; replaces only an earlier export of this kind."""
    if output.exists() and not (output / PIPER_MODEL).is_file():
        raise FileExistsError(f"{output} exists and is not a piper export: export to a new folder")
    model = model.eval().float().cpu()
    config = model.config
    speakers = config.num_speakers > 1
    tokens = 3 * MIN_TOKENS
    inputs = (torch.randint(1, config.vocab_size, (1, tokens)), torch.tensor([tokens]),
              torch.tensor([NOISE_SCALE, 1.0, NOISE_SCALE_DURATION]), *((torch.tensor([0]),) if speakers else ()))
    with staged_folder(output) as staging:
        axes = {"input": {0: "batch", 1: "phonemes"}, "input_lengths": {0: "batch"}, "output": {0: "batch", 2: "time"},
                **({"sid": {0: "batch"}} if speakers else {})}
        _export(PiperGraph(model, dict(tokenizer.get_vocab())), inputs, staging / PIPER_MODEL, ["output"], axes, opset)
        (staging / f"{PIPER_MODEL}.json").write_text(json.dumps(piper_config(config, tokenizer), ensure_ascii=False,
                                                                indent=1) + "\n", encoding="utf-8")
        finish_export(staging, config, model_card, {"runtime": "piper", "model": source, "vocoder": "float32"})
    return output


def piper_voice(folder: Path):
    """The folder loaded in piper's PiperVoice (what piper and wyoming-piper do)."""
    from piper import PiperVoice

    return PiperVoice.load(str(folder / PIPER_MODEL), config_path=str(folder / f"{PIPER_MODEL}.json"))


def sherpa_tokens(vocabulary: dict[str, int]) -> str:
    """tokens.txt for sherpa-onnx's character front end: each one-character token with its id, the
    space as its id alone, and the capital of every non-ASCII small letter with the small letter's id
    (sherpa-onnx lower-cases ASCII only)."""
    lines = []
    for token, index in sorted(vocabulary.items(), key=lambda item: item[1]):
        if len(token) != 1:
            continue  # <unk> and the like: sherpa-onnx skips unknown characters itself
        lines.append(str(index) if token == " " else f"{token} {index}")
    for token, index in sorted(vocabulary.items(), key=lambda item: item[1]):
        capital = token.upper()
        if len(token) == 1 and not token.isascii() and len(capital) == 1 and capital != token and capital not in vocabulary:
            lines.append(f"{capital} {index}")
    return "\n".join(lines) + "\n"


def sherpa_metadata(config, tokenizer) -> dict[str, str]:
    """The metadata sherpa-onnx reads from the graph (sample_rate, n_speakers, language and comment
    are required; frontend makes it use tokens.txt)."""
    return {"model_type": "vits", "comment": "mms", "language": "Kurmanji", "frontend": "characters",
            "add_blank": str(int(bool(getattr(tokenizer, "add_blank", True)))),
            "blank_id": str(tokenizer.pad_token_id or 0), "use_eos_bos": "0", "bos_id": "0", "eos_id": "0",
            "pad_id": str(tokenizer.pad_token_id or 0), "n_speakers": str(max(1, config.num_speakers)),
            "sample_rate": str(config.sampling_rate)}


def add_metadata(path: Path, values: dict[str, str]) -> None:
    import onnx

    graph = onnx.load(str(path))
    for key, value in values.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(path))


def export_sherpa(model, tokenizer, output: Path, model_card: Path | None = None, source: str = "",
                  quantize: bool = False, opset: int = 17) -> Path:
    """Write a sherpa-onnx VITS voice folder: model.onnx (one graph, its metadata), tokens.txt, the
    model's config (its voices) and card, export.json. `quantize`: the vocoder's convolutions int8,
    as `synthesize.py --export_onnx --quantize` makes them. Appears whole or not at all; replaces
    only an earlier export of this kind."""
    if output.exists() and not (output / SHERPA_MODEL).is_file():
        raise FileExistsError(f"{output} exists and is not a sherpa-onnx export: export to a new folder")
    model = model.eval().float().cpu()
    config = model.config
    tokens = 3 * MIN_TOKENS
    speakers = config.num_speakers > 1
    inputs = (torch.randint(1, config.vocab_size, (1, tokens)), torch.tensor([tokens]), torch.tensor([NOISE_SCALE]),
              torch.tensor([1.0]), torch.tensor([NOISE_SCALE_DURATION]), *((torch.tensor([0]),) if speakers else ()))
    with staged_folder(output) as staging:
        axes = {"x": {0: "batch", 1: "tokens"}, "x_length": {0: "batch"}, "y": {0: "batch", 2: "samples"},
                **({"sid": {0: "batch"}} if speakers else {})}
        _export(OneGraph(model), inputs, staging / SHERPA_MODEL, ["y"], axes, opset)
        if quantize:
            feeds = []
            for sentence in CALIBRATION_SENTENCES:
                ids = tokenizer(sentence, return_tensors="np")["input_ids"].astype("int64")
                feeds.append({"x": ids, "x_length": np.array([ids.shape[1]], dtype=np.int64),
                              "noise_scale": np.array([NOISE_SCALE], dtype=np.float32),
                              "length_scale": np.array([1.0], dtype=np.float32),
                              "noise_scale_w": np.array([NOISE_SCALE_DURATION], dtype=np.float32),
                              **({"sid": np.array([0], dtype=np.int64)} if speakers else {})})
            quantize_decoder_convolutions(staging / SHERPA_MODEL, feeds, symbolic_shapes=False)
        add_metadata(staging / SHERPA_MODEL, sherpa_metadata(config, tokenizer))
        (staging / SHERPA_TOKENS).write_text(sherpa_tokens(dict(tokenizer.get_vocab())), encoding="utf-8")
        finish_export(staging, config, model_card, {"runtime": "sherpa-onnx", "model": source,
                                                    "vocoder": "int8" if quantize else "float32"})
    return output


USAGE = {
    "sherpa-onnx": "sherpa-onnx's `OfflineTts` with `vits.model = model.onnx` and `vits.tokens = tokens.txt` "
                   "(Android's TTS engine, iOS, Raspberry Pi, C/C++/Java/Swift/Python)",
    "piper": "piper (`piper -m voice.onnx`, `PiperVoice.load(\"voice.onnx\")`) and Home Assistant's wyoming-piper",
}


def finish_export(staging: Path, config, card: Path | None, record: dict) -> None:
    """What every runtime's export holds beside its graph: the model's config (its voices), the card
    saying what the export is for, and export.json (`record`: the runtime, the model, the vocoder)."""
    config.save_pretrained(staging)
    write_card(card, staging, record["runtime"], record)
    (staging / EXPORT_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def write_card(card: Path | None, folder: Path, runtime: str, record: dict) -> None:
    """The model's card, copied into the export, with what the export is for."""
    text = card.read_text(encoding="utf-8") if card is not None and card.is_file() else "# Kurmanji Kurdish VITS voice\n"
    vocoder = ", int8 vocoder" if record.get("vocoder") == "int8" else ""
    text += (f"\n## This export\n\nExported for {runtime}{vocoder} by `synthesize.py --export_onnx DIR --format {runtime}`"
             f" from `{record.get('model', '')}`: run it with {USAGE[runtime]}. The runtime does not normalise text: pass "
             "normalised text (`synthesize.py --normalize_only`), or numbers and symbols are not spoken.\n")
    (folder / "README.md").write_text(text, encoding="utf-8")


class SherpaVoice:
    """A sherpa-onnx OfflineTts speaking with pauses kept: sherpa-onnx shortens every pause longer than
    0.2 s in what a model says to `silence_scale` of it (its GenerationConfig's default, 0.2, whatever
    OfflineTtsConfig says); at 1.0 it speaks as the toolkit does. An app that keeps sherpa-onnx's default
    gets the pauses between the words of a natural voice cut short."""

    def __init__(self, tts, silence_scale: float):
        self.tts, self.silence_scale = tts, silence_scale
        self.num_speakers, self.sample_rate = tts.num_speakers, tts.sample_rate

    def generate(self, text: str, sid: int = 0):
        import sherpa_onnx

        config = sherpa_onnx.GenerationConfig()
        config.sid, config.silence_scale = sid, self.silence_scale
        return self.tts.generate(text, config)


def sherpa_voice(folder: Path, noise_scale: float = 0.667, noise_scale_w: float = 0.8, threads: int = 1,
                 silence_scale: float = 1.0) -> SherpaVoice:
    """The folder loaded in sherpa-onnx's OfflineTts (what an app does); see `SherpaVoice` for `silence_scale`."""
    import sherpa_onnx

    vits = sherpa_onnx.OfflineTtsVitsModelConfig(model=str(folder / SHERPA_MODEL), tokens=str(folder / SHERPA_TOKENS),
                                                 noise_scale=noise_scale, noise_scale_w=noise_scale_w)
    config = sherpa_onnx.OfflineTtsConfig(model=sherpa_onnx.OfflineTtsModelConfig(vits=vits, num_threads=threads))
    return SherpaVoice(sherpa_onnx.OfflineTts(config), silence_scale)
