"""Where a training writes beside its model folder (`--output_dir`): one place for their names.

    <output_dir>/                 the model (output.py)
    <output_dir>-discriminator/   the discriminator trained with it
    <output_dir>-runs/            TensorBoard logs and evaluation samples (--logging_dir)
"""

from __future__ import annotations

from pathlib import Path


def discriminator_folder(output_dir: Path) -> Path:
    """Where the discriminator trained beside the model in `output_dir` is saved: `<output_dir>-discriminator`."""
    return output_dir.with_name(f"{output_dir.name}-discriminator")


def logging_dir(output_dir: Path, given: Path | None = None) -> Path:
    """TensorBoard logs and evaluation samples: `given` (--logging_dir), or `<output_dir>-runs` beside the model."""
    return given or output_dir.with_name(f"{output_dir.name}-runs")
