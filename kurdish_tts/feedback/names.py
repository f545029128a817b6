"""The names of the model folders a feedback round leaves beside the current model, made and read
in one place: the service tells a backup from a variant with them, without the training engine
that installation.py needs.

    models/kurdish-<UTC>[-<n>]/     a backup: the model a round, or a rollback, replaced
    models/kurdish-rejected/        the last round's model that failed the install check
    models/.kurdish-round/          where a round saves its model before installing it
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"  # UTC, to the second: backups sort by date


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime(STAMP_FORMAT)


def backup_name(model_name: str, stamp: str, number: int = 0) -> str:
    """The name of a backup of the model folder `model_name` made at `stamp` (a `utc_stamp()`):
    `<model_name>-<stamp>`, and `-<number>` after it for another backup made in the same second."""
    return f"{model_name}-{stamp}" + (f"-{number}" if number else "")


def backup_stamp(folder_name: str, model_name: str) -> str | None:
    """The stamp in `folder_name` when it is a `backup_name` of `model_name`; None when it is not."""
    found = re.fullmatch(re.escape(model_name) + r"-(\d{8}T\d{6}Z)(?:-\d+)?", folder_name)  # see STAMP_FORMAT
    return found[1] if found else None


def round_folder(current: Path) -> Path:
    """Where a round saves its model (and, beside it, its discriminator) before installing them."""
    return current.with_name(f".{current.name}-round")


def rejected_folder(current: Path) -> Path:
    return current.with_name(f"{current.name}-rejected")
