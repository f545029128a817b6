#!/usr/bin/env python3
"""Speak groups of the project's sentence list into a training folder, with an espeak-ng voice
(--voice) or a natural speaker of data/corpus/speakers.json (--speaker).

The folder follows the on-disk contract every stage reads (wavs/ of 16 kHz 16-bit mono clips,
metadata.csv, metadata_eval.csv, dataset.json), cleaned as prepare_data.py cleans Common Voice
(resampled, silence trimmed, peak-normalised). The metadata holds the text as the normaliser
speaks it, with the model's characters (the MMS Kurmanji vocabulary). A natural speaker's clips
can first be recorded as Common Voice records them (--recorded: room, microphone band, noise,
level, silence; drawn from --seed and each clip's id). Clips already spoken are kept, so a re-run
costs nothing.

Needs the Debian package espeak-ng (a natural speaker speaks its IPA).

    python data/speak.py --train standin --eval heldout --voice ku --output runs/corpus/standin
    python data/speak.py --train finetune --eval heldout --voice ku+m3 --output runs/corpus/target
    python data/speak.py --train finetune --eval heldout --speaker hevi --recorded --output runs/corpus/hevi
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE
from kurdish_tts.samples import natural
from kurdish_tts.samples.espeak import SPEED, write_folder
from kurdish_tts.samples.sentences import GROUP_SIZES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", nargs="+", choices=list(GROUP_SIZES), required=True, help="groups for metadata.csv")
    parser.add_argument("--eval", nargs="*", choices=list(GROUP_SIZES), default=["heldout"], help="groups for metadata_eval.csv")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--voice", default="ku", help="espeak-ng voice (ku, ku+f3, ku+m3, ...)")
    who.add_argument("--speaker", help="a natural speaker of data/corpus/speakers.json (hevi, azad, ...)")
    parser.add_argument("--speed", type=int, help=f"espeak-ng's words a minute (default {SPEED}; not with --speaker)")
    parser.add_argument("--recorded", action="store_true", help="a natural speaker's clips as Common Voice records")
    parser.add_argument("--seed", type=int, default=0, help="the recording conditions' draws (with --recorded)")
    parser.add_argument("--limit", type=int, help="speak only the first N training sentences")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.recorded and not args.speaker:
        parser.error("--recorded needs --speaker: espeak-ng voices are spoken clean")
    if args.speed is not None and args.speaker:
        parser.error("--speed is espeak-ng's: a natural speaker speaks at its own rate")
    if args.speaker:
        try:
            speaker = natural.speaker(args.speaker)
        except natural.SpeakerError as e:
            parser.error(str(e))
        record = natural.write_folder(args.output, speaker, args.train, args.eval, args.limit, args.recorded, args.seed)
    else:
        record = write_folder(args.output, args.voice, args.train, args.eval, args.speed or SPEED, args.limit)
    print(f"wrote {args.output}: {record['counts'][TRAIN_FILE]} training clips, {record['counts'][EVAL_FILE]} "
          f"held out, {record['hours'] * 60:.1f} min of {record['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
