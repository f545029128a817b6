#!/usr/bin/env python3
"""Text -> speech with a Kurmanji VITS model (a model folder such as models/kurdish, a
checkpoint's model folder, or a hub id). Numbers and punctuation are made speakable first.

Text comes from --text, --text_file (one utterance a line) or standard input; --output is a
wav file for one utterance, or a folder (0001.wav, 0002.wav, ...) for several.

    python synthesize.py --model models/kurdish --text "Ez 25 salî me." --output hello.wav
    python synthesize.py --model models/kurdish --text_file lines.txt --output spoken/
    echo "Rojbaş!" | python synthesize.py --model training/checkpoints/checkpoint-500/model --output hi.wav
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import soundfile as sf

from kurdish_tts.synthesis import Settings, SynthesisError, Voice
from kurdish_tts.vocabulary import MMS_KURMANJI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=MMS_KURMANJI, help="model folder or hub id")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--text", help="the text to speak")
    source.add_argument("--text_file", type=Path, help="a UTF-8 file, one utterance a line")
    parser.add_argument("--output", type=Path, default=Path("output.wav"), help="wav file, or folder for several lines")
    voice = parser.add_argument_group("voice")
    voice.add_argument("--speaking_rate", type=float, default=1.0, help="above 1 speaks faster")
    voice.add_argument("--noise_scale", type=float, default=0.667, help="variation of the voice")
    voice.add_argument("--noise_scale_duration", type=float, default=0.8, help="variation of the rhythm")
    voice.add_argument("--speaker_id", type=int, help="speaker of a multi-speaker model")
    voice.add_argument("--seed", type=int, help="same seed, same audio")
    voice.add_argument("--batch_size", type=int, default=8, help="sentences synthesised together")
    return parser


def read_utterances(args: argparse.Namespace) -> list[str]:
    if args.text is not None:
        return [args.text]
    if args.text_file is not None:
        if not args.text_file.is_file():
            raise SynthesisError(f"--text_file {args.text_file} not found")
        lines = args.text_file.read_text(encoding="utf-8").splitlines()
    else:
        lines = sys.stdin.read().splitlines()
    return [line for line in lines if line.strip()] or [""]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.speaking_rate <= 0:
        parser.error("--speaking_rate must be above 0")
    settings = Settings(args.speaking_rate, args.noise_scale, args.noise_scale_duration, args.speaker_id, args.seed,
                        args.batch_size)
    try:
        utterances = read_utterances(args)
        voice = Voice(args.model)
        for text in utterances:
            voice.sentences(text)  # every utterance checked before any audio is written
        several = len(utterances) > 1 or args.output.suffix.lower() != ".wav"
        if several:
            args.output.mkdir(parents=True, exist_ok=True)
        started, seconds = time.perf_counter(), 0.0
        for index, text in enumerate(utterances, start=1):
            audio = voice.speak(text, settings)
            seconds += len(audio) / voice.sampling_rate
            target = args.output / f"{index:04d}.wav" if several else args.output
            target.parent.mkdir(parents=True, exist_ok=True)
            sf.write(target, audio, voice.sampling_rate, subtype="PCM_16")
        elapsed = time.perf_counter() - started
    except SynthesisError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {len(utterances)} file{'s' if several else ''} to {args.output}: {seconds:.1f} s of audio in "
          f"{elapsed:.1f} s (real-time factor {elapsed / max(seconds, 1e-9):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
