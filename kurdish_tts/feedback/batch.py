"""Many corrections at once, as an app exports them: a CSV file with a header, or JSON Lines.

    audio,text,id,donor,voice,source,note      audio and text required; audio relative to the file's folder
                                               ("speaker" is read as "donor", its older name)
    {"audio": "rec/1.wav", "text": "Rast nivîs", "id": "app-0001"}

A file that cannot be read as a whole is refused (FeedbackRejected); otherwise each row is judged
on its own, and a bad row is reported and skipped while the others are stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kurdish_tts.feedback.store import Entry, FeedbackRejected, FeedbackStore

BATCH_COLUMNS = ("audio", "text", "id", "donor", "voice", "source", "note", "speaker")


@dataclass
class RowResult:
    number: int  # from 1, not counting the CSV header or blank lines
    entry: Entry | None  # None: the row was rejected
    outcome: str  # FeedbackStore.add's (added, replaced, duplicate (...), already pending), or why it was rejected

    @property
    def stored(self) -> bool:
        return self.outcome in ("added", "replaced")


def read_batch(path: Path) -> list:
    """The rows of a CSV (with a header) or JSON Lines file, in order, as parsed: `row_problem`
    judges each one. Raises FeedbackRejected when the file as a whole cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: spreadsheet exports start with a BOM
    except FileNotFoundError as e:
        raise FileNotFoundError(f"--add_batch {path} not found") from e
    except (OSError, UnicodeError) as e:
        raise FeedbackRejected(f"--add_batch {path}: cannot read it as UTF-8 text ({e})") from e
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        rows = []
        for line in filter(str.strip, text.splitlines()):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                rows.append(e)
            except RecursionError:  # nested deeper than Python parses: this line only is bad
                rows.append(json.JSONDecodeError("nested too deeply", line[:40], 0))
        if rows and all(isinstance(row, json.JSONDecodeError) for row in rows):
            raise FeedbackRejected(f"--add_batch {path}: no line is JSON; expected JSON Lines, one object a line")
        return rows
    try:
        reader = csv.DictReader(text.splitlines(keepends=True), strict=True)  # an unclosed quote is an error
        header = reader.fieldnames or []
        if not {"audio", "text"} <= set(header) <= set(BATCH_COLUMNS):
            raise FeedbackRejected(f"--add_batch {path}: the CSV header must name audio and text (optional: id, donor, voice, "
                                   f"source, note); got {','.join(header) or 'nothing'}")
        return list(reader)
    except csv.Error as e:
        raise FeedbackRejected(f"--add_batch {path}: not a readable CSV file ({e})") from e


def row_problem(row) -> str:
    """Why a batch row cannot be stored, or "" when it can (the audio and text are judged later)."""
    if isinstance(row, json.JSONDecodeError):
        return f"not JSON ({row.msg})"
    if not isinstance(row, dict):
        return f"not an object with audio and text: {json.dumps(row)[:40]}"
    if None in row:  # csv.DictReader's key for the fields beyond the header
        return f"{len(row[None])} more fields than the header"
    unknown = sorted(set(row) - set(BATCH_COLUMNS))
    if unknown:
        return f"unknown key {', '.join(unknown)} (valid: {', '.join(BATCH_COLUMNS)})"
    if not isinstance(row.get("audio"), str) or not row["audio"].strip():
        return "no audio path"
    if not isinstance(row.get("text"), str):
        return "no text"
    not_text = [key for key in BATCH_COLUMNS[2:] if row.get(key) is not None and not isinstance(row[key], str)]
    return f"{', '.join(not_text)} must be text" if not_text else ""


def store_rows(store: FeedbackStore, rows: list, folder: Path, characters, *, donor: str = "", source: str = "",
               note: str = "", voice: str = "", check_voice=None) -> Iterator[RowResult]:
    """Store each of `rows` (from `read_batch`; audio paths relative to `folder`) whose text uses
    `characters`, one at a time; -> each row's result as it is stored. `donor`, `voice`, `source`
    and `note` fill the fields a row leaves empty; `check_voice(name)` refuses a voice the model lacks
    (FeedbackRejected)."""
    settings = store.base_cleaning()  # read once for the whole batch
    for number, row in enumerate(rows, start=1):
        try:
            if problem := row_problem(row):
                raise FeedbackRejected(problem)
            chosen = row.get("voice") or voice
            if chosen and check_voice is not None:
                check_voice(chosen)
            entry, outcome = store.add(folder / row["audio"], row["text"], characters, clip_id=row.get("id") or None,
                                       donor=row.get("donor") or row.get("speaker") or donor,
                                       source=row.get("source") or source, note=row.get("note") or note,
                                       settings=settings, voice=chosen)
        except (FeedbackRejected, OSError) as e:  # OSError: this row's file could not be stored; the others go on
            yield RowResult(number, None, str(e))
            continue
        yield RowResult(number, entry, outcome)
