"""Audio encodings of the speech endpoint: wav and pcm written sentence by sentence as they are
spoken, flac, mp3 and opus encoded whole."""

from __future__ import annotations

import io
import struct

import numpy as np

from kurdish_tts.serving.errors import ServiceError

# response_format -> (soundfile format, subtype, media type); wav and pcm are written here, sentence by sentence.
ENCODINGS = {"flac": ("FLAC", "PCM_16", "audio/flac"), "mp3": ("MP3", None, "audio/mpeg"),
             "opus": ("OGG", "OPUS", "audio/ogg")}
STREAMED = {"wav": "audio/wav", "pcm": "audio/pcm"}
FORMATS = tuple(STREAMED) + tuple(ENCODINGS)


def wav_header(rate: int, data_bytes: int | None = None) -> bytes:
    """A 44-byte RIFF header for 16-bit mono PCM. Without `data_bytes` (a stream of unknown length)
    both sizes are 0xFFFFFFFF, which players read as "until the end of the stream"."""
    data = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
            + b"data" + struct.pack("<I", data))


def check_format(response_format: str, rate: int) -> None:
    """ServiceError 422 when audio at `rate` cannot be encoded as `response_format` (asked before any synthesis)."""
    if response_format == "opus" and rate not in (8000, 12000, 16000, 24000, 48000):
        raise ServiceError(422, f"opus needs a rate of 8, 12, 16, 24 or 48 kHz; this model speaks at {rate} Hz")


def encode_whole(audio: np.ndarray, rate: int, response_format: str) -> bytes:
    """One utterance in a format that cannot be joined from pieces: flac, mp3 or opus."""
    import soundfile as sf

    kind, subtype, _ = ENCODINGS[response_format]
    check_format(response_format, rate)
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=kind, subtype=subtype)
    return buffer.getvalue()


def media_type(response_format: str) -> str:
    return STREAMED.get(response_format) or ENCODINGS[response_format][2]
