#!/usr/bin/env python3
"""Fine-tune MMS Kurmanji (VITS) on prepared data: the full VITS recipe, resumable.

Reads `--data_dir` (default `training/`: wavs/, metadata.csv, metadata_eval.csv, as written by
prepare_data.py) and writes:

    models/kurdish/                  the fine-tuned model, a plain transformers folder (+ loss_curve.png)
    models/kurdish-discriminator/    the discriminator, to continue adversarial training later
    models/kurdish-runs/             TensorBoard logs and samples/step-N/*.wav
    training/checkpoints/checkpoint-N/   resumable state (and a model folder of that step)

    python train_vits.py                                   # MMS Kurmanji from the hub, one 8 GB GPU
    python train_vits.py --resume                          # continue from the latest checkpoint
    python train_vits.py --init_config configs/tiny.json --max_steps 300 --learning_rate 2e-3  # tiny CPU run
    accelerate launch --multi_gpu train_vits.py --batch_size 8   # several GPUs
"""

from __future__ import annotations

import argparse
import sys

from kurdish_tts.corpus.metadata import MetadataError
from kurdish_tts.training import TrainingError, TrainingInterrupted, add_training_arguments, check_arguments, train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_training_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    try:
        train(args)
    except TrainingInterrupted as e:
        print(e, file=sys.stderr)
        return 130
    except (TrainingError, MetadataError, OSError) as e:  # the project's own, a full disk, a folder it cannot write;
        # anything else is a bug, with its traceback
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
