#!/usr/bin/env python3
"""Which part of a voice holds it back? The judge's CER of three paths through the model, on
held-out sentences spoken in the voice the model learnt (espeak-ng's, or a natural speaker's clean):

    decoder      the posterior encoder's means of the voice's recording, decoded: the vocoder alone
    prior        the text encoder's means along the true alignment (the alignment search on the
                 recording), back through the flow, decoded: the vocoder and the prior
    synthesis    plain synthesis from the text: all of it, with the predicted durations

A gap between decoder and prior points at the text encoder and flow; between prior and synthesis
at the duration predictor.

With --swap MODEL (the model a fine-tune started from), it asks instead which part's change cost
the synthesis its intelligibility: the judge's CER of plain synthesis with each part put back from
MODEL in turn, and of MODEL with each part taken from the fine-tuned one.

    python bench/bench_voice_parts.py                         # data/pretrained/model, 8 sentences
    python bench/bench_voice_parts.py --model runs/standin/model --sentences 20
    python bench/bench_voice_parts.py --model CHECKPOINT/model --swap data/pretrained/model --sentences 20
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_voice import as_reference, model_voice, rendered

from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import Recognizer, character_error_rate

RATE = 16_000


def path_audios(model, tokenizer, text: str, recording: np.ndarray, noise_scale: float | None = None,
                seed: int = 0) -> dict[str, np.ndarray]:
    import torch

    from kurdish_tts.synthesis.voice import Settings, Voice
    from kurdish_tts.vits.alignment import monotonic_alignment_search
    from kurdish_tts.vits.features import FeatureConfig, linear_spectrogram
    from kurdish_tts.vits.generator import prior_log_likelihood

    features = FeatureConfig.from_model_config(model.config)
    recording = recording[: len(recording) // features.hop_length * features.hop_length]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        spectrogram = linear_spectrogram(torch.from_numpy(recording).float().unsqueeze(0), features)
        frames = torch.ones(1, 1, spectrogram.shape[-1])
        ids = tokenizer(text, return_tensors="pt")
        encoded = model.text_encoder(input_ids=ids.input_ids, padding_mask=ids.attention_mask.unsqueeze(-1).float(),
                                     attention_mask=ids.attention_mask)
        m_p, logs_p = encoded.prior_means.transpose(1, 2), encoded.prior_log_variances.transpose(1, 2)
        z, m_q, _ = model.posterior_encoder(spectrogram, frames, None)
        path = monotonic_alignment_search(prior_log_likelihood(model.flow(z, frames, None), m_p, logs_p),
                                          ids.attention_mask, frames)
        means, log_std = torch.matmul(m_p, path), torch.matmul(logs_p, path)
        scale = model.config.noise_scale if noise_scale is None else noise_scale
        z_p = means + torch.randn(means.shape, generator=generator) * torch.exp(log_std) * scale
        decoded = {"decoder": model.decoder(m_q, None),
                   "prior": model.decoder(model.flow(z_p, frames, None, reverse=True), None)}
    audios = {name: audio.squeeze().numpy() for name, audio in decoded.items()}
    audios["synthesis"] = Voice.from_model(model, tokenizer).speak(text, Settings(seed=seed, noise_scale=noise_scale))
    return audios


SWAPPED = ("text_encoder", "duration_predictor", "flow", "decoder")  # synthesis uses no posterior encoder


def swapped_models(tuned, start):
    """(label, model) pairs: the fine-tuned model, it with each part of `start`, `start` with each of its parts."""
    import copy

    yield "fine-tuned", tuned
    for first, second, label in ((tuned, start, "fine-tuned, {} from the start"),
                                 (start, tuned, "the start, {} fine-tuned")):
        for part in SWAPPED:
            model = copy.deepcopy(first)
            setattr(model, part, copy.deepcopy(getattr(second, part)))
            yield label.format(part.replace("_", " ")), model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "data" / "pretrained" / "model")
    parser.add_argument("--voice", help="the voice the model learnt, whose recordings the decoder and prior paths take "
                                        "(default: the one the stand-in's build.json above --model names, else ku; "
                                        "not used with --swap)")
    parser.add_argument("--judge", type=Path, default=ROOT / "data" / "judge")
    parser.add_argument("--sentences", type=int, default=8, help="held-out sentences scored (at most 20)")
    parser.add_argument("--noise_scale", type=float,
                        help="the prior's sampling noise on every path (default: the model config's, 0.667 in MMS)")
    parser.add_argument("--swap", type=Path, metavar="MODEL",
                        help="the model --model was fine-tuned from: score synthesis with their parts exchanged")
    args = parser.parse_args(argv)
    import torch
    from transformers import VitsModel, VitsTokenizer

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    model = VitsModel.from_pretrained(args.model).eval()
    tokenizer = VitsTokenizer.from_pretrained(args.model)
    judge = Recognizer(args.judge)
    sentences = read_sentences("heldout")[: args.sentences]
    if args.swap:
        from kurdish_tts.synthesis.voice import Settings, Voice

        texts = [spoken_text(sentence) for _, sentence in sentences]
        start = VitsModel.from_pretrained(args.swap).eval()
        print(f"{args.model} against {args.swap}, {len(texts)} held-out sentences, the judge's CER of synthesis:")
        settings = Settings(seed=0, noise_scale=args.noise_scale)
        for label, swapped in swapped_models(model, start):
            voice = Voice.from_model(swapped, tokenizer)
            rate = np.mean([character_error_rate(t, judge(voice.speak(t, settings), RATE)) for t in texts])
            print(f"  {label:45s} {rate:6.1%}", flush=True)
        return 0
    errors: dict[str, list[float]] = {}
    reference = as_reference(args.voice or model_voice(args.model))
    for _, sentence in sentences:
        text = spoken_text(sentence)
        recording = rendered(reference, sentence)
        for name, audio in path_audios(model, tokenizer, text, recording, args.noise_scale).items():
            errors.setdefault(name, []).append(character_error_rate(text, judge(audio, RATE)))
    print(f"{args.model}, {args.sentences} held-out sentences, the judge's CER:")
    for name, values in errors.items():
        print(f"  {name:10s} {np.mean(values):6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
