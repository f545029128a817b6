"""Run by test_train_vits.py in two CPU processes: they train on different clips, and after each update
their weights must be identical. Rank 0 writes what it saw to OUT_DIR/distributed.json.

    ACCELERATE_USE_CPU=yes torchrun --nproc_per_node 2 tests/distributed_check.py DATA_DIR OUT_DIR
"""

import json
import sys
from pathlib import Path

import torch
from helpers import args_for

import train_vits
from kurdish_tts.corpus.dataset import collate
from kurdish_tts.corpus.metadata import read_metadata
from kurdish_tts.training import loop
from kurdish_tts.training import run as runs


def main(data: Path, out: Path) -> None:
    args = train_vits.build_parser().parse_args(args_for(data, out, "--discriminator_warmup_steps", 0))
    run = runs.build_run(args, read_metadata(data / "metadata.csv"), [], None)
    before = torch.cat([p.detach().reshape(-1) for p in run.model.parameters()])
    batches = loop.epoch_batches(run)[:2]
    finite = [loop.train_step(run, collate([run.dataset[i] for i in indices])) is not None for indices in batches]
    after = torch.cat([p.detach().reshape(-1) for p in [*run.model.parameters(), *run.discriminator.parameters()]])
    clips = run.accelerator.gather(torch.tensor([sorted(i for b in batches for i in b)]))
    weights = run.accelerator.gather(after.unsqueeze(0))
    if run.accelerator.is_main_process:
        (out / "distributed.json").write_text(json.dumps({
            "processes": run.accelerator.num_processes, "finite": all(finite),
            "clips": clips.tolist(), "changed": not torch.equal(before, after[: before.numel()]),
            "difference": float((weights[0] - weights[1]).abs().max()),
        }))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
