"""The voices of a feedback round: which voice a correction is for, checked against the model's, and
which voice the clips that name none train as."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from kurdish_tts.feedback.store import Entry, FeedbackRejected
from kurdish_tts.training import TrainingError
from kurdish_tts.vits.voices import VoiceError, folder_voices, voice_id


def model_voices(args) -> list[str]:
    """The voices of the model corrections are for: a local model folder's; none for --init_config or a
    hub id (MMS has one voice)."""
    if args.init_config or not Path(str(args.model_name_or_path)).is_dir():
        return []
    return folder_voices(Path(str(args.model_name_or_path)))


def voice_checker(args):
    """A function that passes a name of one of the model's voices and raises FeedbackRejected for any
    other (names only: an id would mean another voice once the model gains voices)."""
    voices = model_voices(args)

    def check(voice: str) -> str:
        if not voices:
            raise FeedbackRejected(f"voice {voice[:40]!r}: {args.model_name_or_path} has one voice; leave the voice out")
        if voice not in voices:
            raise FeedbackRejected(f"voice {voice[:40]!r}: {args.model_name_or_path} has the voices {', '.join(voices)}")
        return voice

    return check


def round_voice(args, voices: list[str]) -> str:
    """The voice a round trains clips that name none as: --voice (or --speaker_id), else the model's
    first; "" for a one-voice model."""
    if not voices:
        return ""
    chosen = args.voice if args.voice is not None else (args.speaker_id or None)
    try:
        return voices[voice_id(SimpleNamespace(num_speakers=len(voices), voices=voices), chosen)]
    except VoiceError as e:
        raise TrainingError(f"--voice: {e}") from e


def check_round_voices(snapshot: list[Entry], voices: list[str], model) -> None:
    """Every correction that names a voice names one of the model's."""
    unknown = sorted({e.voice for e in snapshot if e.voice and e.voice not in voices})
    if unknown:
        have = f"has the voices {', '.join(voices)}" if voices else "has one voice"
        raise TrainingError(f"pending corrections are for the voice {', '.join(unknown)}, but {model} {have}: remove "
                            f"them (DELETE /v1/feedback/ID) or train the model that has that voice")
