"""The voice over the Wyoming protocol (Home Assistant's voice pipelines): `serve.py --wyoming
tcp://0.0.0.0:10200` serves it beside the HTTP API, from the same models, worker and limits.

Events (JSON lines, `wyoming` package): `describe` is answered with `info`, one TTS program whose
voices are the served models (a multi-voice model's voices as its speakers); `synthesize` speaks a
text; `synthesize-start`, `synthesize-chunk`... `synthesize-stop` speak a text as it comes, each
sentence as soon as it is complete, and end with `synthesize-stopped` (the one-shot `synthesize` a
client sends inside a stream, for servers that do not stream, is ignored, as Home Assistant and
wyoming-piper expect). A request speaks with one model from its start to its end; its text is held
to --max_text_chars (a stream's in all, as sent and once numbers are spelled out) and one sentence per 10
characters of it, as over HTTP. A streamed text is cut where a sentence ends and the normaliser reads the text
before and after the cut as it reads the whole ("2. roja" is an ordinal, "Dr. Azad" one sentence). Audio goes out as
`audio-start`, `audio-chunk`s as each sentence's decoder makes its pieces (16-bit mono PCM at the
model's rate; the pause between sentences a chunk of its own) and `audio-stop`.
The text goes through the Kurmanji normaliser first; each sentence is seeded by its place in the
text and followed by the same pause as over HTTP, so the chunks join to the audio
`POST /v1/audio/speech` gives for the same text. Anything refused is an `error` event.
"""

from __future__ import annotations

import asyncio
import logging
import re
from functools import partial

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Attribution, Describe, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
from wyoming.server import AsyncEventHandler, AsyncServer
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from kurdish_tts.corpus.audio import to_pcm16
from kurdish_tts.serving.errors import ServiceError
from kurdish_tts.serving.routes.speech import CHARS_PER_SENTENCE
from kurdish_tts.serving.shelf import RUNTIME_KINDS
from kurdish_tts.synthesis.voice import PAUSE_S, Settings, SynthesisError
from kurdish_tts.vits.voices import VoiceError, folder_voices, voice_id

log = logging.getLogger(__name__)
ATTRIBUTION = Attribution(name="Kurmanji TTS", url="https://github.com/")
# Where a streamed text may be cut: a sentence may be complete and more text follows it.
SENTENCE_END = re.compile(r"[.!?…:;]+[\"'”»)]*\s+(?=\S)")


def speakable(voice, text: str) -> list[str]:
    """`voice.sentences(text)`, [] where nothing in it can be said (a piece of a longer text)."""
    try:
        return voice.sentences(text)
    except SynthesisError:
        return []


def complete_end(voice, text: str) -> tuple[int, list[str]]:
    """Where the complete sentences of a streamed `text` end (0: none yet), and those sentences as the
    normaliser reads them: the last possible sentence end at which it reads the text before and after
    it as it reads the whole."""
    whole = speakable(voice, text)
    for match in reversed(list(SENTENCE_END.finditer(text))):
        head = speakable(voice, text[:match.end()])
        if head + speakable(voice, text[match.end():]) == whole:
            return match.end(), head
    return 0, []


def describe(service) -> Info:
    """The served models as one TTS program's voices; a multi-voice model's voices are its speakers."""
    voices = []
    for name, (folder, kind) in sorted(service.shelf.listing().items()):
        if kind in RUNTIME_KINDS:
            continue
        speakers = [TtsVoiceSpeaker(name=voice) for voice in folder_voices(folder)] or None
        voices.append(TtsVoice(name=name, description=f"Kurmanji Kurdish ({kind})", attribution=ATTRIBUTION,
                               installed=True, version=None, languages=["kmr"], speakers=speakers))
    program = TtsProgram(name="kurmanji-tts", description="Kurmanji Kurdish text to speech", attribution=ATTRIBUTION,
                         installed=True, version=None, voices=voices, supports_synthesize_streaming=True)
    return Info(tts=[program])


class Handler(AsyncEventHandler):
    """One Wyoming connection."""

    def __init__(self, service, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.service = service
        self.streaming = False  # between synthesize-start and synthesize-stop
        self.stream: dict | None = None  # the request being spoken: its voice, text not yet spoken, sentences sent

    async def handle_event(self, event: Event) -> bool:
        try:
            if Describe.is_type(event.type):
                await self.write_event(describe(self.service).event())
            elif SynthesizeStart.is_type(event.type):
                self.stream = await self.begin(SynthesizeStart.from_event(event).voice)
                self.streaming = True
            elif SynthesizeChunk.is_type(event.type) and self.streaming:
                stream = self.stream
                stream["text"] += SynthesizeChunk.from_event(event).text
                stream["received"] += len(event.data.get("text", ""))
                self.check_length(stream["received"])
                cut, sentences = complete_end(stream["voice"], stream["text"])
                if cut:  # the complete sentences go now; the rest waits for more text
                    ready, stream["text"] = stream["text"][:cut], stream["text"][cut:]
                    await self.speak(ready, last=False, sentences=sentences)
            elif SynthesizeStop.is_type(event.type) and self.streaming:
                await self.speak(self.stream["text"], last=True)
                self.streaming, self.stream = False, None
                await self.write_event(SynthesizeStopped().event())
            elif Synthesize.is_type(event.type) and not self.streaming:  # while streaming: the compatibility copy
                request = Synthesize.from_event(event)
                self.check_length(len(request.text))
                self.stream = await self.begin(request.voice)
                try:
                    await self.speak(request.text, last=True)
                finally:
                    self.stream = None
        except (ServiceError, SynthesisError, VoiceError) as e:
            self.streaming, self.stream = False, None
            await self.write_event(Error(text=str(e), code=type(e).__name__).event())
        return True

    def check_length(self, characters: int) -> None:
        limit = self.service.args.max_text_chars
        if characters > limit:
            raise ServiceError(413, f"the text is over {limit} characters (--max_text_chars)")

    async def begin(self, requested) -> dict:
        """A request's state: the model and voice it speaks with to its end, whatever a swap does meanwhile."""
        peer = self.writer.get_extra_info("peername") if self.writer is not None else None
        self.service.reads.check(f"wyoming:{peer[0] if isinstance(peer, tuple) else 'local'}")
        _, loaded = await asyncio.get_running_loop().run_in_executor(
            None, self.service.shelf.get, getattr(requested, "name", None))
        voice = loaded.voice
        speaker = voice_id(voice.config, getattr(requested, "speaker", None) or None) if voice.voices else None
        return {"voice": voice, "speaker": speaker, "text": "", "received": 0, "spoken": 0, "said": 0, "started": False}

    async def speak(self, text: str, last: bool, sentences: list[str] | None = None) -> None:
        """Speak `text` as the next sentences of the current request (`sentences`: as the normaliser read
        them, where the caller has them already); audio-start before its first audio, audio-stop after the last."""
        service, stream = self.service, self.stream
        voice, rate = stream["voice"], stream["voice"].sampling_rate
        sentences = speakable(voice, text) if sentences is None else sentences
        if last and not sentences and not stream["spoken"] and text.strip():
            voice.sentences(text)  # nothing in the whole request can be said: that error
        limit = service.args.max_text_chars
        stream["said"] += sum(map(len, sentences))
        if stream["said"] > limit:  # numbers spelled out: "999999998" reads as over 60 characters
            raise ServiceError(413, f"the text reads as {stream['said']} characters once numbers and abbreviations "
                                    f"are spelled out; at most {limit} (--max_text_chars)")
        most = max(1, limit // CHARS_PER_SENTENCE)
        if stream["spoken"] + len(sentences) > most:
            raise ServiceError(413, f"the text has more than {most} sentences")
        if not stream["started"]:
            await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
            stream["started"] = True
        service.synthesis.enter()
        try:
            for position, sentence in enumerate(sentences):
                made = voice.pieces(sentence, Settings(speaking_rate=1.0, speaker_id=stream["speaker"],
                                                       seed=stream["spoken"]))
                while (audio := await service.synthesis.run(next, made, None)) is not None:
                    await self.send(audio, rate)
                if not (last and position == len(sentences) - 1):  # the pause HTTP puts between sentences
                    await self.send(np.zeros(int(PAUSE_S * rate), dtype=np.float32), rate)
                stream["spoken"] += 1
        finally:
            service.synthesis.leave()
        if last:
            await self.write_event(AudioStop().event())

    async def send(self, audio: np.ndarray, rate: int) -> None:
        await self.write_event(AudioChunk(rate=rate, width=2, channels=1,
                                          audio=to_pcm16(audio).astype("<i2").tobytes()).event())


async def start(service, uri: str) -> AsyncServer:
    """The Wyoming server at `uri` (tcp://host:port), listening; OSError when the address cannot be had."""
    server = AsyncServer.from_uri(uri)
    await server.start(partial(Handler, service))
    log.info("Wyoming server at %s", uri)
    return server
