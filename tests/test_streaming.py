"""Synthesis in pieces: each sentence's decoder run over overlapping stretches of its latents joins
to the whole sentence's audio, on every engine."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ROOT, random_model

from kurdish_tts.synthesis.engines import CONTEXT_FRAMES, FIRST_FRAMES, export_onnx
from kurdish_tts.synthesis.voice import Settings, Voice

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
    assert CONTEXT_FRAMES >= 16  # the overlap measured to make the pieces exact


def test_an_onnx_export_speaks_a_sentence_a_piece_and_the_same_audio(tmp_path):
    from transformers import VitsModel, VitsTokenizer

    source = ROOT / "data" / "pretrained" / "model"
    export_onnx(VitsModel.from_pretrained(source), VitsTokenizer.from_pretrained(source), tmp_path / "onnx")
    voice = Voice(tmp_path / "onnx")
    pieces = list(voice.pieces(TEXT, Settings(seed=2)))
    assert len(pieces) == 2 * len(voice.sentences(TEXT)) - 1  # sentences and the pauses between them
    assert np.abs(np.concatenate(pieces) - voice.speak(TEXT, Settings(seed=2))).max() < 1e-4
