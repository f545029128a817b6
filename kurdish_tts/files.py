"""Files that are whole or absent: atomic writes, folder replacement, and exclusive locks.

A killed process or a power cut leaves the old file or the new one, never half of one; every
stage that writes what a user made or will read writes through here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

UMASK = os.umask(0o022)  # reading the process's umask means setting it: set it straight back
os.umask(UMASK)


def read_json_object(path: Path) -> dict:
    """A JSON file holding an object, as a dict; {} when it is missing, unreadable or holds something else."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError: not UTF-8, not JSON
        return {}
    return value if isinstance(value, dict) else {}


def not_utf8(what: str | Path, error: UnicodeDecodeError) -> str:
    """The one-line error for a text file (or stream) that is not UTF-8: where, and how to mend it."""
    return f"{what} is not UTF-8 text ({error.reason} at byte {error.start}): save it as UTF-8"


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`: a killed
    process or a power cut leaves the old file or the new one, never half of one. Without
    `fsync`, a power cut (not a killed process) may leave an empty or partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes files only their owner can read
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def replace_folder(source: Path, target: Path) -> None:
    """Move the folder `source` to `target`. An existing `target` is first renamed aside (see
    `restore_replaced_folder`) and removed only once `source` has taken its name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    aside = _aside(target)
    shutil.rmtree(aside, ignore_errors=True)
    if target.exists():
        os.replace(target, aside)
    os.replace(source, target)
    shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A folder to fill beside `target` (hidden, on the same file system); when the block ends without
    an error it replaces `target` (`replace_folder`), else it is removed: `target` appears whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        staging.chmod(0o777 & ~UMASK)  # mkdtemp makes folders only their owner can read
        yield staging
        replace_folder(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_replaced_folder(target: Path, lock: AbstractContextManager | None = None) -> bool:
    """Undo half a `replace_folder` that a kill interrupted between its two renames (only the old
    folder, renamed aside, is left): put it back, under `lock` when there is something to do.
    True when it did."""
    aside = _aside(target)
    if target.exists() or not aside.is_dir():
        return False
    with lock or nullcontext():
        if target.exists() or not aside.is_dir():  # another process was first
            return False
        os.replace(aside, target)
    return True


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


class LockBusy(RuntimeError):
    """`locked(..., wait=False)` found the lock held by another process."""


@contextmanager
def locked(path: Path, wait: bool = True) -> Iterator[None]:
    """An exclusive advisory lock on the file `path` (made with its folder when missing), held for
    the `with` block and let go when the process dies. With `wait=False` a held lock raises
    `LockBusy` at once instead of blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as e:
            raise LockBusy(f"{path} is held by another process") from e
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
