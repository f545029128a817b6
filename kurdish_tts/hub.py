"""Whether the model hub answers, found out once and fast.

Asking the hub for a model on a machine without network does not fail fast: the hub
client retries with back-off for minutes. Every stage asks here first, so that the
offline path (a clear error, or the built-in vocabulary) costs a second.
"""

from __future__ import annotations

import functools
import os
import socket
from pathlib import Path

HUB_HOST = "huggingface.co"
TIMEOUT_S = 1.5


class HubUnreachable(RuntimeError):
    """The hub is needed for something that is not on disk."""


def card_value(card: str, key: str) -> str | None:
    """The value of `key` in a model card's (README.md's) front matter, None when it has none."""
    front = card.split("---")[1] if card.startswith("---") else ""
    return next((line.split(":", 1)[1].strip() for line in front.splitlines() if line.startswith(f"{key}:")), None)


def error_line(error: Exception) -> str:
    """A library's error (the hub's, datasets', transformers') in one line: its type and first line."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


@functools.lru_cache(maxsize=1)
def reachable() -> bool:
    """False when HF_HUB_OFFLINE is set or the hub does not accept a connection within a second or so."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", f"https://{HUB_HOST}")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    try:
        with socket.create_connection((host, 443), timeout=TIMEOUT_S):
            return True
    except OSError:
        return False


def require(name_or_path: str | Path, what: str = "model") -> None:
    """Raise `HubUnreachable` with a one-line fix when `name_or_path` is a hub id and the hub is out of reach."""
    if Path(name_or_path).exists():
        return
    if not reachable():
        raise HubUnreachable(
            f"cannot download {what} '{name_or_path}': the model hub is unreachable "
            f"(offline or HF_HUB_OFFLINE=1); pass a local folder instead"
        )


def model_folder_problem(name_or_path: str | Path, *, hub_ids: bool = True) -> str | None:
    """What is wrong with `name_or_path` as a model folder, in a few words; None when nothing is.

    An existing path must hold a config.json. A path that does not exist may be a hub id when
    `hub_ids` is true; otherwise it is not found."""
    path = Path(name_or_path)
    if not path.exists():
        return None if hub_ids else f"{path} not found"
    if not (path / "config.json").is_file():
        return f"{path} is not a model folder (no config.json)"
    return None
