"""POST /v1/audio/speech, OpenAI's speech endpoint: the text is split into sentences and spoken
one by one; wav and pcm are sent as they are made, each sentence in pieces as its decoder runs over
stretches of it (the first one short), flac, mp3 and opus whole."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kurdish_tts.corpus.audio import to_pcm16
from kurdish_tts.serving.encoding import FORMATS, STREAMED, check_format, encode_whole, media_type, wav_header
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.state import ServiceState
from kurdish_tts.synthesis.voice import PAUSE_S, Settings, SynthesisError
from kurdish_tts.vits.voices import VoiceError, voice_id

MAX_SPEED = 4.0
CHARS_PER_SENTENCE = 10  # a request may hold one sentence per this many characters of --max_text_chars
MIN_SPEED = 0.25

router = APIRouter()


# OpenAI's own voices: its SDK always sends one of them, so each means the model's first voice.
OPENAI_VOICES = frozenset({"alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx",
                           "sage", "shimmer", "verse"})


class Speech(BaseModel):
    """OpenAI's speech request; `voice` names a voice of a multi-voice model (GET /v1/models lists
    them), any value is the one voice of a one-voice model."""

    input: str
    model: str | None = None
    voice: str | None = None
    response_format: str = "mp3"
    speed: float = 1.0


def speaker_of(voice, name: str | None) -> int | None:
    """OpenAI's `voice`: a voice of a multi-voice model by name (or id); one of OpenAI's own names, or
    none, is its first voice; any value for a one-voice model. 422 listing the voices otherwise."""
    if not voice.voices:
        return None
    if name is None or name.lower() in OPENAI_VOICES:
        return 0
    try:
        return voice_id(voice.config, name)
    except VoiceError as e:
        raise ServiceError(422, str(e)) from e


@router.post("/v1/audio/speech")
async def speech(body: Speech, request: Request, service: ServiceState):
    started = time.perf_counter()
    service.reader(request)
    limit, synthesis = service.args.max_text_chars, service.synthesis
    if len(body.input) > limit:
        raise ServiceError(413, f"the input is {len(body.input)} characters; at most {limit} (--max_text_chars)")
    if not body.input.strip():
        raise ServiceError(422, "the input is empty: give the text to speak as \"input\"")
    if body.response_format not in FORMATS:
        raise ServiceError(422, f"response_format {body.response_format[:20]!r}: use one of {', '.join(FORMATS)}")
    if not MIN_SPEED <= body.speed <= MAX_SPEED:
        raise ServiceError(422, f"speed {body.speed:g}: give a value from {MIN_SPEED} to {MAX_SPEED}")
    model_id, loaded = await run_in_threadpool(service.shelf.get, body.model)
    voice = loaded.voice  # this request speaks with this voice to its end, whatever a swap does meanwhile
    metrics = service.metrics
    metrics.model_loaded(model_id, loaded.weights)
    try:
        sentences = voice.sentences(body.input)  # none longer than MAX_SENTENCE_CHARS: memory stays bounded
    except SynthesisError as e:
        raise ServiceError(422, str(e)) from e
    spoken = sum(map(len, sentences))
    if spoken > limit:  # numbers and abbreviations spelled out: "999999998" is 9 characters, read out over 60
        raise ServiceError(413, f"the input reads as {spoken} characters once numbers and abbreviations are spelled "
                                f"out; at most {limit} (--max_text_chars)")
    most = max(1, limit // CHARS_PER_SENTENCE)
    if len(sentences) > most:  # each sentence costs a call: "a. a. a. ..."
        raise ServiceError(413, f"the input has {len(sentences)} sentences; at most {most} "
                                f"(one per {CHARS_PER_SENTENCE} characters of --max_text_chars)")
    speaker = speaker_of(voice, body.voice)
    key = (model_id, loaded.weights, tuple(sentences), body.response_format, body.speed, speaker)
    kind, rate = body.response_format, voice.sampling_rate
    check_format(kind, rate)  # before a queue place is taken
    hit = synthesis.cached(key)
    if hit is not None:
        metrics.cache_hits.inc()
        metrics.first_audio.labels(kind).observe(time.perf_counter() - started)
        return Response(hit, media_type=media_type(kind))
    synthesis.enter()

    def say(index: int, sentence: str):
        began = time.perf_counter()
        audio = voice.speak(sentence, Settings(speaking_rate=body.speed, speaker_id=speaker, seed=index))
        metrics.synthesis_seconds.inc(time.perf_counter() - began)
        if index < len(sentences) - 1:
            audio = np.concatenate([audio, np.zeros(int(PAUSE_S * rate), dtype=audio.dtype)])
        metrics.audio_seconds.inc(len(audio) / rate)
        return audio

    if kind not in STREAMED:  # formats that cannot be joined from pieces: sent whole
        try:
            pieces = [await synthesis.run(say, i, s) for i, s in enumerate(sentences)]
            encoded = await synthesis.run(encode_whole, np.concatenate(pieces), rate, kind)
            metrics.first_audio.labels(kind).observe(time.perf_counter() - started)
        finally:
            synthesis.leave()
        synthesis.keep(key, encoded)
        return Response(encoded, media_type=media_type(kind))

    def pieces(index: int, sentence: str):
        """A sentence's audio as it is decoded, the pause after it included (a generator)."""
        settings = Settings(speaking_rate=body.speed, speaker_id=speaker, seed=index)
        yield from voice.pieces(sentence, settings)
        if index < len(sentences) - 1:
            yield np.zeros(int(PAUSE_S * rate), dtype=np.float32)

    def next_piece(made):
        began = time.perf_counter()
        audio = next(made, None)
        if audio is not None:
            metrics.synthesis_seconds.inc(time.perf_counter() - began)
            metrics.audio_seconds.inc(len(audio) / rate)
        return audio

    async def stream():
        parts = []
        try:
            if kind == "wav":
                parts.append(wav_header(rate))
                yield parts[-1]
            for index, sentence in enumerate(sentences):
                made = pieces(index, sentence)
                while (audio := await synthesis.run(next_piece, made)) is not None:
                    if len(parts) <= (kind == "wav"):  # the first PCM samples of the answer
                        metrics.first_audio.labels(kind).observe(time.perf_counter() - started)
                    parts.append(to_pcm16(audio).astype("<i2", copy=False).tobytes())  # little-endian on any machine
                    yield parts[-1]
        finally:
            synthesis.leave()
        whole = b"".join(parts)
        if kind == "wav":  # the cached copy has its true length in the header
            whole = wav_header(rate, len(whole) - 44) + whole[44:]
        synthesis.keep(key, whole)

    return StreamingResponse(stream(), media_type=media_type(kind))
