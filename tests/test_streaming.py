"""Synthesis in pieces: each sentence's decoder run over overlapping stretches of its latents joins
to the whole sentence's audio, on every engine."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ROOT, random_model

from kurdish_tts.synthesis.engines import FIRST_FRAMES, export_onnx
from kurdish_tts.synthesis.voice import PAUSE_S, Settings, Voice

TEXT = "Rojbaş. Ez 25 salî me û li Amedê dijîm, hewa îro pir xweş e û em ê herin baxçe."


@pytest.mark.parametrize("model", ["standin", "multi-voice"])
def test_pieces_join_to_the_whole_and_the_first_comes_early(model, tmp_path):
    folder = (ROOT / "data" / "pretrained" / "model" if model == "standin" else
              random_model(tmp_path / "m", num_speakers=2, speaker_embedding_size=8, voices=["a", "b"]))
    voice = Voice(folder)
    settings = Settings(seed=4, voice="b" if model == "multi-voice" else None)
    pieces = list(voice.pieces(TEXT, settings))
    whole = voice.speak(TEXT, settings)
    joined = np.concatenate(pieces)
    assert len(joined) == len(whole) and np.abs(joined - whole).max() < 1e-4
    hop = int(np.prod(voice.config.upsample_rates))
    assert len(pieces[0]) == FIRST_FRAMES * hop and len(pieces) > 4  # a short first piece, then more


@pytest.mark.parametrize("quantize", [False, True])
def test_an_onnx_export_decodes_in_pieces_too(tmp_path, quantize):
    from transformers import VitsModel, VitsTokenizer

    from kurdish_tts.scoring.measures import mcd_dtw

    source = ROOT / "data" / "pretrained" / "model"
    export_onnx(VitsModel.from_pretrained(source), VitsTokenizer.from_pretrained(source), tmp_path / "onnx",
                quantize=quantize)
    voice = Voice(tmp_path / "onnx")
    pieces = list(voice.pieces(TEXT, Settings(seed=2)))
    joined, whole = np.concatenate(pieces), voice.speak(TEXT, Settings(seed=2))
    assert len(pieces) > 2 * len(voice.sentences(TEXT)) and len(joined) == len(whole)
    if quantize:  # int8: the pieces lie as near the whole as int8 lies to float, not nearer
        assert mcd_dtw(whole, joined, voice.sampling_rate) < mcd_dtw(Voice(source).speak(TEXT, Settings(seed=2)),
                                                                     whole, voice.sampling_rate) + 0.5
    else:
        assert np.abs(joined - whole).max() < 1e-4
        assert np.abs(whole - Voice(source).speak(TEXT, Settings(seed=2))).max() < 1e-3  # ONNX is PyTorch


def test_an_export_made_before_streaming_still_speaks_a_sentence_a_piece(tmp_path):
    """Older exports hold the flow and the decoder in one graph (durations_to_audio.onnx)."""
    import torch
    from transformers import VitsModel, VitsTokenizer

    from kurdish_tts.synthesis.engines import DECODER_FILE, LATENTS_FILE, VOCODER_FILE, DurationsToAudio, _export

    source = ROOT / "data" / "pretrained" / "model"
    model = VitsModel.from_pretrained(source).eval()
    folder = export_onnx(model, VitsTokenizer.from_pretrained(source), tmp_path / "old")
    tokens, channels = 24, model.config.flow_size
    durations = torch.full((1, tokens), 3.0)
    _export(DurationsToAudio(model), (durations, torch.randn(1, channels, tokens), 0.1 * torch.randn(1, channels, tokens),
            torch.ones(1, tokens, dtype=torch.long), torch.randn(1, channels, 72)), folder / DECODER_FILE, ["waveform"],
            {"durations": {0: "b", 1: "t"}, "prior_means": {0: "b", 2: "t"}, "prior_log_std": {0: "b", 2: "t"},
             "attention_mask": {0: "b", 1: "t"}, "prior_noise": {0: "b", 2: "f"}, "waveform": {0: "b", 1: "s"}}, 17)
    (folder / LATENTS_FILE).unlink()
    (folder / VOCODER_FILE).unlink()
    voice = Voice(folder)
    pieces = list(voice.pieces(TEXT, Settings(seed=2)))
    assert len(pieces) == 2 * len(voice.sentences(TEXT)) - 1  # sentences and the pauses between them
    assert np.abs(np.concatenate(pieces) - Voice(source).speak(TEXT, Settings(seed=2))).max() < 1e-3


def test_synthesize_writes_pcm_to_standard_output(tmp_path):
    import subprocess
    import sys

    model = ROOT / "data" / "pretrained" / "model"
    done = subprocess.run([sys.executable, str(ROOT / "synthesize.py"), "--model", str(model), "--text", TEXT,
                           "--seed", "3", "--output", "-"], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    streamed = np.frombuffer(done.stdout, "<i2").astype(np.float32) / 32767
    expected = Voice(model).speak(TEXT, Settings(seed=3))
    assert len(streamed) == len(expected) and np.abs(streamed - expected).max() < 1e-3
    assert b"first audio after" in done.stderr


def test_pcm_on_standard_output_goes_out_a_piece_at_a_time(monkeypatch):
    import io
    import sys
    from types import SimpleNamespace

    from kurdish_tts.synthesis.exporting import stream_pcm

    sent: list[bytes] = []  # what standard output has flushed, flush by flush
    written = io.BytesIO()
    buffer = SimpleNamespace(write=written.write, flush=lambda: sent.append(written.getvalue()[sum(map(len, sent)):]))
    monkeypatch.setattr(sys, "stdout", SimpleNamespace(buffer=buffer))
    voice, settings = Voice(ROOT / "data" / "pretrained" / "model"), Settings(seed=3)
    assert stream_pcm(voice, ["Rojbaş.", TEXT], settings) == 0
    pieces = [*voice.pieces("Rojbaş.", settings), None, *voice.pieces(TEXT, settings)]  # None: the pause
    pause = int(PAUSE_S * voice.sampling_rate)
    assert len(pieces) > 3 and [len(s) for s in sent] == [2 * (pause if p is None else len(p)) for p in pieces]
