"""The project's sentence list (data/corpus/sentences.tsv, written by data/sentences.py from a small
grammar), split once into groups so that no figure is measured on a sentence its model heard:

    standin    the stand-in pretrained voice learns these (data/pretrained/)
    heldout    20 sentences nobody trains on: the stand-in's and fine-tuning's unseen test set
    judge      the judge (data/judge/, a speech recogniser) learns these, in several voices
    judge_test the judge's own held-out check
    finetune   what the benchmarks fine-tune the stand-in on, in a voice it has not heard

The list lies in the repository's data/ folder, beside the voices trained on it.
"""

from __future__ import annotations

from pathlib import Path

SENTENCES_FILE = Path(__file__).resolve().parents[2] / "data" / "corpus" / "sentences.tsv"
GROUP_SIZES = {"heldout": 20, "judge_test": 100, "finetune": 160, "standin": 700, "judge": 1800}


def read_sentences(group: str | None = None, path: Path = SENTENCES_FILE) -> list[tuple[str, str]]:
    """[(id, sentence)] of one group (all groups when None), from the committed file."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    if group is not None and group not in GROUP_SIZES:
        raise ValueError(f"unknown sentence group {group!r}: use one of {', '.join(GROUP_SIZES)}")
    return [(i, s) for i, g, s in rows if group is None or g == group]
