"""Common Voice inputs: a hub dataset, parquet files, a `save_to_disk` folder, or a release folder.

Every kind is read as a stream of `SourceRow`s with the audio left undecoded (raw bytes,
or for a release folder the clip's file inside `clips/`). Columns are found by name.
Nothing in the data becomes a path outside the dataset: a release folder's `path`
must be a bare file name inside `clips/`, and the `path` inside a hub audio struct is
only ever used as a name.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kurdish_tts import hub
from kurdish_tts.files import not_utf8

AUDIO_COLUMNS = ("audio", "path")  # the Kurmanji mirror keeps its audio in `path`
TEXT_COLUMNS = ("sentence", "text")
DEFAULT_SPLIT = "train"
DEFAULT_RELEASE_TABLE = "validated.tsv"
RELEASE_SPLITS = ("validated.tsv", "train.tsv", "dev.tsv", "test.tsv", "other.tsv", "invalidated.tsv")
PARQUET_SHARD = re.compile(r"^(\w+(?:\.\w+)*)-\d{5,}(?:-of-\d{5,})?\b")  # train-00000-of-00002.parquet: train
BATCH_ROWS = 64  # rows converted from Arrow at a time


class SourceError(ValueError):
    """The dataset cannot be read as asked."""


@dataclass(frozen=True)
class SourceRow:
    key: str  # stable identity of the clip within its dataset (clip name, or a hash of its bytes)
    text: str
    speaker: str
    gender: str
    up_votes: int | None
    down_votes: int | None
    audio: bytes | None = None  # raw encoded audio, or
    audio_file: Path | None = None  # a file checked to lie inside the dataset's clips folder
    problem: str = ""  # set when the row cannot give audio: the reason it is skipped


@dataclass
class Source:
    kind: str  # hub | parquet | disk | release
    description: str
    columns: list[str]
    rows: Iterator[SourceRow]
    num_rows: int | None


def open_source(dataset: str, split: str | None = None, audio_column: str | None = None,
                text_column: str | None = None) -> Source:
    """Find out what `dataset` is and open it as a stream of rows.

    `split` None means the default: `validated.tsv` for a release folder, `train` for the rest
    (a parquet folder whose files carry no split names is then read whole)."""
    path = Path(dataset)
    if path.exists():
        release = _find_release_folder(path)
        if release is not None:
            table = DEFAULT_RELEASE_TABLE if split is None else split if split.endswith(".tsv") else f"{split}.tsv"
            return _open_release(release, table, audio_column, text_column)
        if path.is_file() and path.suffix == ".parquet" or path.is_dir() and any(path.rglob("*.parquet")):
            return _open_parquet(path, split, audio_column, text_column)
        if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
            return _open_disk(path, split, audio_column, text_column)
        raise SourceError(
            f"{path} is not a dataset this tool reads: pass a Common Voice release folder "
            f"(with validated.tsv and clips/), parquet files, or a save_to_disk folder"
        )
    local_parent = path.parent.is_dir() and path.parent != Path(".")  # "data/demoo" where data/ is a folder here
    if "/" in dataset and not dataset.startswith((".", "/")) and dataset.count("/") == 1 and not local_parent:
        try:
            hub.require(dataset, "dataset")
        except hub.HubUnreachable as e:
            raise SourceError(str(e)) from e
        return _open_hub(dataset, split or DEFAULT_SPLIT, audio_column, text_column)
    raise SourceError(f"dataset {dataset!r} not found: pass an existing folder or file, or a hub id like owner/name"
                      + (f" (there is a folder {path.parent}/ here: is the rest of the name mistyped?)" if local_parent else ""))


# --- Common Voice release folders -------------------------------------------------------

def _find_release_folder(path: Path) -> Path | None:
    """`cv-corpus-*/kmr/` itself, or a parent holding exactly one such folder."""
    if not path.is_dir():
        return None
    if any((path / name).is_file() for name in RELEASE_SPLITS):
        return path
    candidates = sorted({tsv.parent for tsv in path.glob("*/validated.tsv")} | {tsv.parent for tsv in path.glob("*/*/validated.tsv")})
    if len(candidates) > 1:
        names = ", ".join(str(c) for c in candidates[:4])
        raise SourceError(f"{path} holds several Common Voice folders ({names}): pass one of them")
    return candidates[0] if candidates else None


def _open_release(folder: Path, split: str, audio_column: str | None, text_column: str | None) -> Source:
    table = folder / split
    if Path(split).name != split or not table.is_file():
        present = ", ".join(sorted(p.name for p in folder.glob("*.tsv"))) or "none"
        raise SourceError(f"{folder} has no {split}: choose --split from the .tsv files there ({present})")
    try:  # -sig: a byte-order mark (a spreadsheet's export) is not part of the first column's name
        with table.open(encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), [])
            num_rows = sum(1 for _ in handle)  # reads it all: a byte that is not UTF-8 is found now
    except UnicodeDecodeError as error:
        raise SourceError(not_utf8(table, error)) from None
    audio = _pick_column(header, audio_column, [c for c in ("path",) if c in header], "audio", f"{table} has")
    text = _pick_column(header, text_column, [c for c in TEXT_COLUMNS if c in header], "text", f"{table} has")
    return Source("release", f"Common Voice release {folder} ({split})", header,
                  _release_rows(folder, table, audio, text), num_rows)


def _release_rows(folder: Path, table: Path, audio_column: str, text_column: str) -> Iterator[SourceRow]:
    clips = (folder / "clips").resolve()
    with table.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            name = (row.get(audio_column) or "").strip()
            file = (clips / name).resolve() if name else None
            problem = ""
            if not name:
                problem = "missing audio"
            elif Path(name).name != name or file.parent != clips:
                problem = "unsafe path"
            elif not file.exists():
                problem = "missing clip file"
            yield SourceRow(
                key=name,
                text=row.get(text_column) or "",
                speaker=row.get("client_id") or "",
                gender=row.get("gender") or "",
                up_votes=_vote(row.get("up_votes")),
                down_votes=_vote(row.get("down_votes")),
                audio_file=None if problem else file,
                problem=problem,
            )


def _vote(value) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- Arrow datasets: hub, parquet, save_to_disk -------------------------------------------

def _open_hub(name: str, split: str, audio_column, text_column) -> Source:
    import datasets

    try:
        data = datasets.load_dataset(name, split=split)
    except (OSError, ValueError) as e:  # not found, no such split, gated, HTTP errors (the hub's are OSErrors)
        raise SourceError(f"cannot load hub dataset {name!r} split {split!r}: {hub.error_line(e)}") from e
    return _arrow_source("hub", f"hub dataset {name} ({split})", data, audio_column, text_column)


@contextmanager
def _datasets_log_quiet():
    from datasets.utils import logging as datasets_logging

    before = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity(datasets_logging.CRITICAL)
    try:
        yield
    finally:
        datasets_logging.set_verbosity(before)


def _open_parquet(path: Path, split: str | None, audio_column, text_column) -> Source:
    import datasets

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    named = {f: _parquet_split(f, path) for f in files}
    splits = sorted({name for name in named.values() if name})
    if split is None and (path.is_file() or not splits):
        chosen, label = files, ""  # the file asked for, or files that carry no split names: one table
    else:
        label = split or DEFAULT_SPLIT
        chosen = [f for f in files if named[f] == label]
        if not chosen:
            there = f"choose --split from {', '.join(splits)}" if splits else "its files carry no split names: leave out --split"
            raise SourceError(f"{path} has no split {label!r}: {there}")
    try:
        with _datasets_log_quiet():  # it logs the damage before raising; the error below says it once
            data = datasets.load_dataset("parquet", data_files=[str(f) for f in chosen], split="train")
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid for a damaged file is a ValueError
        raise SourceError(f"cannot read the parquet files of {path}: {hub.error_line(e)}") from e
    return _arrow_source("parquet", f"parquet {path}{f' ({label})' if label else ''}", data, audio_column, text_column)


def _parquet_split(file: Path, root: Path) -> str | None:
    """The split a parquet file belongs to in the hub layouts: `<split>-00000-of-00002.parquet`, or
    any file in a folder `<split>/` (a folder below `root` only: the names above it are the user's)."""
    match = PARQUET_SHARD.match(file.name)
    if match:
        return match.group(1)
    return file.parent.name if file.parent != root and root in file.parents else None


def _open_disk(path: Path, split: str | None, audio_column, text_column) -> Source:
    import datasets

    data = datasets.load_from_disk(str(path))
    if isinstance(data, datasets.DatasetDict):
        wanted = split or DEFAULT_SPLIT
        if wanted not in data:
            raise SourceError(f"{path} has no split {wanted!r}: choose --split from {', '.join(data)}")
        data = data[wanted]
    elif split is not None and str(data.split or "") != split:  # a single dataset is read whole, unless asked for a split
        raise SourceError(f"{path} holds a single dataset{f' (split {data.split})' if data.split else ''}, "
                          f"not a split {split!r}: leave out --split")
    return _arrow_source("disk", f"save_to_disk folder {path}", data, audio_column, text_column)


def _arrow_source(kind: str, description: str, data, audio_column, text_column) -> Source:
    import datasets

    columns = list(data.column_names)
    audio = _pick_column(columns, audio_column, [c for c in AUDIO_COLUMNS if _holds_audio(data.features.get(c))], "audio")
    text = _pick_column(columns, text_column, [c for c in TEXT_COLUMNS if c in columns], "text")
    if isinstance(data.features[audio], datasets.Audio):
        # Keep the raw {bytes, path}: decoding through datasets needs torchcodec.
        data = data.cast_column(audio, datasets.Audio(decode=False))
    return Source(kind, description, columns, _arrow_rows(data, audio, text), len(data))


def _holds_audio(feature) -> bool:
    import datasets

    if isinstance(feature, datasets.Audio):
        return True
    return isinstance(feature, dict) and "bytes" in feature


def _pick_column(columns: list[str], asked: str | None, found: list[str], what: str, owner: str = "the dataset has") -> str:
    """The column `asked` for, or else the first of `found`; a missing one is an error listing `columns`."""
    if asked:
        if asked not in columns:
            raise SourceError(f"{owner} no {what} column {asked!r}: the columns are {', '.join(columns)}")
        return asked
    if not found:
        flag = "--audio_column" if what == "audio" else "--text_column"
        raise SourceError(f"{owner} no {what} column: pass {flag} with one of {', '.join(columns)}")
    return found[0]


def _arrow_rows(data, audio_column: str, text_column: str) -> Iterator[SourceRow]:
    for batch in data.iter(batch_size=BATCH_ROWS):
        size = len(batch[text_column])
        for i in range(size):
            value = batch[audio_column][i] or {}
            payload = value.get("bytes") if isinstance(value, dict) else None
            name = value.get("path") if isinstance(value, dict) else None
            key = Path(name).name if name else hashlib.sha1(payload or b"").hexdigest()
            yield SourceRow(
                key=key,
                text=batch[text_column][i] or "",
                speaker=_cell(batch, "client_id", i),
                gender=_cell(batch, "gender", i),
                up_votes=_vote(_cell(batch, "up_votes", i)),
                down_votes=_vote(_cell(batch, "down_votes", i)),
                audio=payload,
                problem="" if payload else "missing audio",
            )


def _cell(batch: dict, column: str, i: int):
    values = batch.get(column)
    value = values[i] if values is not None else None
    return "" if value is None else value
