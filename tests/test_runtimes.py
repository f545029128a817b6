"""The voice in other runtimes: a sherpa-onnx export loaded in sherpa-onnx's own OfflineTts."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import ROOT, random_model

import synthesize
from kurdish_tts.synthesis.runtimes import SHERPA_MODEL, SHERPA_TOKENS, sherpa_voice
from kurdish_tts.synthesis.voice import Settings, Voice

pytest.importorskip("sherpa_onnx")
STANDIN = ROOT / "data" / "pretrained" / "model"
# Normalised sentences, as an app passes them (synthesize.py --normalize_only): capitals and every special letter.
SENTENCES = ["Çima Şêx û Îro Êvarê Ûsiv hat", "ez bîst û pênc salî me", "Ê Î Û Ç Ş ê î û ç ş"]
QUIET = Settings(noise_scale=0.0, noise_scale_duration=0.0)


@pytest.fixture(scope="module")
def sherpa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export") / "sherpa"
    assert synthesize.main(["--model", str(STANDIN), "--export_onnx", str(folder), "--format", "sherpa-onnx"]) == 0
    return folder


def probe(folder, into):
    """A copy of an export whose model returns its input ids as its audio: what sherpa-onnx feeds the model."""
    import onnx
    from onnx import TensorProto, helper

    graph = onnx.load(str(folder / SHERPA_MODEL))
    inputs = [helper.make_tensor_value_info("x", TensorProto.INT64, [1, "T"]),
              helper.make_tensor_value_info("x_length", TensorProto.INT64, [1])]
    inputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1])
               for name in ("noise_scale", "length_scale", "noise_scale_w")]
    shape = helper.make_node("Constant", [], ["shape"], value=helper.make_tensor("s", TensorProto.INT64, [3], [1, 1, -1]))
    nodes = [helper.make_node("Cast", ["x"], ["ids"], to=TensorProto.FLOAT), shape,
             helper.make_node("Reshape", ["ids", "shape"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "probe", inputs,
                                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "T"])]),
                              opset_imports=[helper.make_opsetid("", 17)], ir_version=8)  # what sherpa-onnx's onnxruntime reads
    for entry in graph.metadata_props:
        model.metadata_props.add(key=entry.key, value=entry.value)
    into.mkdir()
    onnx.save(model, str(into / SHERPA_MODEL))
    shutil.copy2(folder / SHERPA_TOKENS, into / SHERPA_TOKENS)
    return into


def test_sherpa_onnx_feeds_the_model_exactly_the_toolkits_ids(sherpa, tmp_path):
    voice = Voice(STANDIN)
    runtime = sherpa_voice(probe(sherpa, tmp_path / "probe"))
    for sentence in SENTENCES:
        fed = np.asarray(runtime.generate(sentence).samples).round().astype(int).tolist()
        (spoken,) = voice.sentences(sentence)
        assert fed == voice.tokenizer(spoken)["input_ids"], sentence


def test_the_sherpa_onnx_voice_speaks_as_the_toolkit_does(sherpa):
    metadata = {entry.key: entry.value for entry in __import__("onnx").load(str(sherpa / SHERPA_MODEL)).metadata_props}
    assert metadata["frontend"] == "characters" and metadata["n_speakers"] == "1" and metadata["use_eos_bos"] == "0"
    assert json.loads((sherpa / "export.json").read_text())["runtime"] == "sherpa-onnx"
    voice, runtime = Voice(STANDIN), sherpa_voice(sherpa, 0.0, 0.0)
    for sentence in SENTENCES:
        audio = runtime.generate(sentence)
        expected = voice.speak(sentence, QUIET)
        assert audio.sample_rate == 16000 and len(audio.samples) == len(expected)
        assert np.abs(np.asarray(audio.samples) - expected).max() < 1e-4, sentence
    shortened = sherpa_voice(sherpa, 0.0, 0.0, silence_scale=0.2).generate(SENTENCES[1])  # sherpa-onnx's default
    assert len(shortened.samples) < len(voice.speak(SENTENCES[1], QUIET)) - 0.1 * 16000  # the stand-in's pause cut short
    noisy = sherpa_voice(sherpa)  # with its noise (drawn inside the graph) it still speaks
    assert np.abs(np.asarray(noisy.generate(SENTENCES[1]).samples)).max() > 0.01


def test_a_multi_voice_model_for_sherpa_onnx_and_piper_and_an_int8_vocoder_for_sherpa_onnx(tmp_path):
    from kurdish_tts.scoring.measures import mcd_dtw

    folder = random_model(tmp_path / "model", num_speakers=3, speaker_embedding_size=8, voices=["a", "b", "c"])
    voice = Voice(folder)
    assert synthesize.main(["--model", str(folder), "--export_onnx", str(tmp_path / "s"), "--format", "sherpa-onnx"]) == 0
    runtime = sherpa_voice(tmp_path / "s", 0.0, 0.0)
    assert runtime.num_speakers == 3
    text = "ez ji te hez dikim"
    for sid in (0, 2):
        expected = voice.speak(text, Settings(noise_scale=0.0, noise_scale_duration=0.0, speaker_id=sid))
        assert np.abs(np.asarray(runtime.generate(text, sid=sid).samples) - expected).max() < 1e-4
    from piper.config import SynthesisConfig

    from kurdish_tts.synthesis.runtimes import piper_voice

    assert synthesize.main(["--model", str(folder), "--export_onnx", str(tmp_path / "p"), "--format", "piper"]) == 0
    piper = piper_voice(tmp_path / "p")
    assert piper.config.num_speakers == 3 and piper.config.speaker_id_map == {"a": 0, "b": 1, "c": 2}
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False, speaker_id=2)
    spoken = np.concatenate([chunk.audio_float_array for chunk in piper.synthesize(text, quiet)])
    assert np.abs(spoken - voice.speak(text, Settings(noise_scale=0.0, noise_scale_duration=0.0, voice="c"))).max() < 1e-4
    assert synthesize.main(["--model", str(STANDIN), "--export_onnx", str(tmp_path / "q"), "--format", "sherpa-onnx",
                            "--quantize"]) == 0
    quantized = np.asarray(sherpa_voice(tmp_path / "q", 0.0, 0.0).generate(SENTENCES[1]).samples)
    float_ = Voice(STANDIN).speak(SENTENCES[1], QUIET)
    assert len(quantized) == len(float_) and mcd_dtw(float_, quantized, 16000) < 8.0  # int8: near, not equal
    assert json.loads((tmp_path / "q" / "export.json").read_text())["vocoder"] == "int8"


@pytest.fixture(scope="module")
def piper(tmp_path_factory):
    pytest.importorskip("piper")
    folder = tmp_path_factory.mktemp("export") / "piper"
    assert synthesize.main(["--model", str(STANDIN), "--export_onnx", str(folder), "--format", "piper"]) == 0
    return folder


def test_piper_ids_fold_into_the_toolkits_ids(piper):
    """piper decomposes ç ş ê î û into a base letter and a combining mark; the graph folds them back."""
    import torch
    from transformers import VitsModel

    from kurdish_tts.synthesis.runtimes import PiperGraph, piper_voice

    voice, runtime = Voice(STANDIN), piper_voice(piper)
    graph = PiperGraph(VitsModel.from_pretrained(STANDIN), dict(voice.tokenizer.get_vocab()))
    for sentence in SENTENCES:
        (phonemes,) = runtime.phonemize(sentence)
        fed = torch.tensor([runtime.phonemes_to_ids(phonemes)])
        ids, length = graph.fold(fed, torch.tensor([fed.shape[1]]))
        (spoken,) = voice.sentences(sentence)
        assert ids[0].tolist() == voice.tokenizer(spoken)["input_ids"] and int(length) == ids.shape[1], sentence
        assert fed.shape[1] > ids.shape[1] or not any(c in sentence for c in "çşêîûÇŞÊÎÛ")  # marks were there


def test_the_piper_voice_speaks_as_the_toolkit_does(piper):
    from piper.config import SynthesisConfig

    from kurdish_tts.synthesis.runtimes import piper_voice

    config = json.loads((piper / "voice.onnx.json").read_text(encoding="utf-8"))
    assert config["phoneme_type"] == "text" and config["phoneme_id_map"]["_"] == [0] and config["phoneme_id_map"]["^"] == []
    voice, runtime = Voice(STANDIN), piper_voice(piper)
    quiet = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, normalize_audio=False)
    for sentence in SENTENCES:
        audio = np.concatenate([chunk.audio_float_array for chunk in runtime.synthesize(sentence, quiet)])
        expected = voice.speak(sentence, QUIET)
        assert len(audio) == len(expected) and np.abs(audio - expected).max() < 1e-4, sentence


def test_the_service_lists_exports_for_other_runtimes_and_does_not_speak_with_them(workspace, sherpa):
    import httpx
    from serving import Server

    shutil.copytree(sherpa, workspace / "models" / "kurdish-sherpa")
    card = (sherpa / "README.md").read_text(encoding="utf-8")
    assert "Exported for sherpa-onnx" in card and "--normalize_only" in card
    with Server(workspace) as server:
        listed = {m["id"]: m["kind"] for m in httpx.get(f"{server.url}/v1/models").json()["data"]}
        refused = httpx.post(f"{server.url}/v1/audio/speech", json={"input": "Rojbaş.", "model": "kurdish-sherpa"},
                             timeout=60)
    assert listed == {"kurdish": "served", "kurdish-sherpa": "sherpa-onnx"}
    assert refused.status_code == 422 and "exported for sherpa-onnx" in refused.json()["error"]["message"]


def test_the_wyoming_server_describes_its_voices_and_speaks_whole_and_streamed_as_http_does(workspace):
    import asyncio
    import socket

    import httpx
    from serving import Server
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient
    from wyoming.error import Error
    from wyoming.info import Describe, Info
    from wyoming.tts import (
        Synthesize,
        SynthesizeChunk,
        SynthesizeStart,
        SynthesizeStop,
        SynthesizeStopped,
        SynthesizeVoice,
    )

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = "Rojbaş. Ez di 2. roja mehê de hatim. Dr. Azad 25 salî ye."  # an ordinal, an abbreviation

    async def talk():
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Describe().event())
            info = Info.from_event(await client.read_event())
            await client.write_event(Synthesize(text=text).event())
            whole = await received(client, stop=AudioStop)
            # Home Assistant's order: start, the chunks, the compatibility synthesize (ignored), stop
            await client.write_event(SynthesizeStart().event())
            for piece in ("Rojbaş. Ez di 2. ", "roja mehê de hatim. Dr. ", "Azad 25 salî ye."):  # cut after each dot
                await client.write_event(SynthesizeChunk(text=piece).event())
            await client.write_event(Synthesize(text=text).event())
            await client.write_event(SynthesizeStop().event())
            streamed = await received(client, stop=SynthesizeStopped)
            await client.write_event(Synthesize(text="Rojbaş.", voice=SynthesizeVoice(name="nope")).event())
            refused = await client.read_event()
            await client.write_event(Synthesize(text="999999998 " * 50).event())  # 500 characters, read as 4,000
            spelled = await client.read_event()
            return info, whole, streamed, refused, spelled

    async def received(client, stop):
        events = []
        while True:
            event = await client.read_event()
            events.append(event)
            if stop.is_type(event.type):
                return events

    with Server(workspace, "--wyoming", f"tcp://127.0.0.1:{port}") as server:
        info, whole, streamed, refused, spelled = asyncio.run(talk())
        http = httpx.post(f"{server.url}/v1/audio/speech", json={"input": text, "response_format": "pcm"}, timeout=60)
    (program,) = info.tts
    assert program.supports_synthesize_streaming and [v.name for v in program.voices] == ["kurdish"]
    for events in (whole, streamed):
        assert AudioStart.is_type(events[0].type)
        chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
        assert len(chunks) > 5 and all(c.rate == 16000 and c.width == 2 for c in chunks)  # pieces of sentences, pauses
        assert b"".join(c.audio for c in chunks) == http.content  # the same audio as over HTTP
    assert [e.type for e in streamed[-2:]] == ["audio-stop", "synthesize-stopped"]
    assert sum(AudioStart.is_type(e.type) for e in streamed) == 1  # the compatibility copy was not spoken
    assert Error.is_type(refused.type) and "nope" in Error.from_event(refused).text  # the ignored one sent nothing
    assert Error.is_type(spelled.type) and "once numbers and abbreviations are spelled out" in Error.from_event(spelled).text


def test_a_wyoming_address_that_cannot_be_had_is_refused_in_one_line(capsys):
    import socket

    import serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for uri, message in ((f"tcp://127.0.0.1:{port}", "cannot listen there"), ("http://x:1", "give tcp://HOST:PORT")):
            with pytest.raises(SystemExit) as exit_:
                serve.main(["--wyoming", uri])
            assert exit_.value.code == 2 and message in capsys.readouterr().err
