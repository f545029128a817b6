#!/usr/bin/env python3
"""Speak groups of the project's sentence list with an espeak-ng voice into a training folder.

The folder follows the on-disk contract every stage reads (wavs/ of 16 kHz 16-bit mono clips,
metadata.csv, metadata_eval.csv, dataset.json), cleaned as prepare_data.py cleans Common Voice
(resampled, silence trimmed, peak-normalised). The metadata holds the text as the normaliser
speaks it, with the model's characters (the MMS Kurmanji vocabulary); espeak-ng reads the
sentence as written. Clips already spoken are kept, so a re-run costs nothing.

Needs the Debian package espeak-ng.

    python data/speak.py --train standin --eval heldout --voice ku --output runs/corpus/standin
    python data/speak.py --train finetune --eval heldout --voice ku+m3 --output runs/corpus/target
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE
from kurdish_tts.samples.espeak import SPEED, write_folder
from kurdish_tts.samples.sentences import GROUP_SIZES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", nargs="+", choices=list(GROUP_SIZES), required=True, help="groups for metadata.csv")
    parser.add_argument("--eval", nargs="*", choices=list(GROUP_SIZES), default=["heldout"], help="groups for metadata_eval.csv")
    parser.add_argument("--voice", default="ku", help="espeak-ng voice (ku, ku+f3, ku+m3, ...)")
    parser.add_argument("--speed", type=int, default=SPEED, help="words a minute")
    parser.add_argument("--limit", type=int, help="speak only the first N training sentences")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    record = write_folder(args.output, args.voice, args.train, args.eval, args.speed, args.limit)
    print(f"wrote {args.output}: {record['counts'][TRAIN_FILE]} training clips, {record['counts'][EVAL_FILE]} "
          f"held out, {record['hours'] * 60:.1f} min of {record['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
