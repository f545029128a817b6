"""Where a training writes beside its model folder (`--output_dir`): one place for their names.

    <output_dir>/                 the model (output.py)
    <output_dir>-discriminator/   the discriminator trained with it
    <output_dir>-runs/            TensorBoard logs and evaluation samples (--logging_dir)
"""

from __future__ import annotations

from pathlib import Path

from kurdish_tts.vits.discriminator import CONFIG_FILE as DISCRIMINATOR_CONFIG


def discriminator_folder(output_dir: Path) -> Path:
    """Where the discriminator trained beside the model in `output_dir` is saved: `<output_dir>-discriminator`."""
    return output_dir.with_name(f"{output_dir.name}-discriminator")


def logging_dir(output_dir: Path, given: Path | None = None) -> Path:
    """TensorBoard logs and evaluation samples: `given` (--logging_dir), or `<output_dir>-runs` beside the model."""
    return given or output_dir.with_name(f"{output_dir.name}-runs")


def output_folder_problem(output_dir: Path) -> str | None:
    """Why a training may not write its model to `output_dir`; None when it may. The model folder and
    the discriminator's beside it are replaced whole at the end, so each must be missing, empty, or one
    a training wrote (its config is there): a data folder named by mistake would be deleted."""
    for folder, marker in ((output_dir, "config.json"), (discriminator_folder(output_dir), DISCRIMINATOR_CONFIG)):
        if folder.is_file():
            return f"{folder} is a file"
        if folder.is_dir() and not (folder / marker).is_file() and any(folder.iterdir()):
            return (f"{folder} holds files that are not a model's (no {marker}), and the training replaces it "
                    "whole: name a new folder or an earlier model's")
    return None
