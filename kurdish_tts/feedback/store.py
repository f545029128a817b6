"""The feedback store: corrections waiting to be trained on, and those already trained on.

    <data_dir>/feedback/pending/wavs/<id>-<hash>.wav   cleaned like prepare_data.py's clips (<hash>: of the audio sent)
    <data_dir>/feedback/pending/metadata.csv           <id>-<hash>.wav|<normalised text>   (the usual contract)
    <data_dir>/feedback/pending/entries.json           one record per clip: when it came, who, from where
    <data_dir>/feedback/archive/<UTC>/                 the same three, plus round.json, for each trained round
    <data_dir>/feedback/round-in-progress.json         a round between installing its model and archiving

Every change happens under an exclusive file lock and is written atomically, so two intakes
at the same moment keep both entries, and a killed process never leaves half an entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from kurdish_tts.corpus import audio
from kurdish_tts.corpus.acceptance import AudioTooShortForText, UnsayableText, accept_clip
from kurdish_tts.corpus.metadata import (
    TRAIN_FILE,
    WAVS_DIR,
    Clip,
    MetadataError,
    read_dataset_record,
    read_metadata,
    write_metadata,
)
from kurdish_tts.files import LockBusy, locked, write_bytes_atomic, write_text_atomic

ENTRIES_FILE = "entries.json"
ROUND_FILE = "round.json"
IN_PROGRESS_FILE = "round-in-progress.json"


class StoreDamaged(RuntimeError):
    """A record of the store that cannot be read: no fault of a correction (the service answers 500)."""


def read_record(path: Path, missing):
    """The JSON in `path` (`missing` when there is none); StoreDamaged, in one line, when it is damaged."""
    if not path.is_file():
        return missing
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise StoreDamaged(f"{path} is damaged ({e}): mend it or move it aside; the store stays as it was") from None


class FeedbackRejected(ValueError):
    """A correction that cannot be stored: the message says why; `reason` is the audio check's short
    key ("too long", "undecodable audio", ...) when the audio was refused."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


MAX_ID_LENGTH = 100  # an id names files: far below any file system's limit


@dataclass
class Entry:
    id: str
    file: str  # "<id>-<first 12 hex digits of sha256>.wav" inside wavs/ (older entries: "<id>.wav")
    text: str  # normalised, speakable
    original_text: str
    sha256: str  # of the audio file as received: the same recording is never stored twice
    seconds: float
    added: str  # UTC, ISO 8601
    donor: str = ""  # who spoke the correction (entries written before the word changed call it "speaker")
    source: str = ""
    note: str = ""
    spoken_text: str = ""  # what the voice was asked to say when it said it wrong (from the service)
    model: str = ""  # the model that said it wrong
    consent: str = ""  # the licence the donor agreed the recording is kept under
    key_name: str = ""  # the name of the service key that sent it ("": sent without one, or not through the service)
    voice: str = ""  # the voice of a multi-voice model the correction is for ("": the round's voice)

    @classmethod
    def of(cls, record: dict) -> Entry:
        """An entry from its JSON record, older spellings read too ("speaker" for "donor")."""
        record = dict(record)
        if "speaker" in record:
            record.setdefault("donor", record.pop("speaker"))
        return cls(**record)

    def key(self) -> tuple[str, str, str]:
        """What makes an entry the same entry: a replaced text is a new one."""
        return (self.id, self.sha256, self.text)


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FeedbackStore:
    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.root = self.data_dir / "feedback"
        self.pending = self.root / "pending"
        self.archive = self.root / "archive"

    def locked(self):
        """An exclusive lock over the whole store (blocks until the other process is done)."""
        return locked(self.root / ".lock")

    @contextmanager
    def round_lock(self):
        """Held for a whole training round: a second round at the same time fails at once."""
        try:
            with locked(self.root / ".round-lock", wait=False):
                yield
        except LockBusy as e:
            raise FeedbackRejected(f"another training round is running on {self.root}: wait for it to end") from e

    # --- reading ---------------------------------------------------------------------------

    @staticmethod
    def read_entries(folder: Path) -> list[Entry]:
        path = folder / ENTRIES_FILE
        try:
            return [Entry.of(record) for record in read_record(path, [])]
        except (TypeError, AttributeError, ValueError) as e:  # a record without the fields of an entry
            raise StoreDamaged(f"{path} is damaged ({e}): mend it or move it aside") from None

    def pending_entries(self) -> list[Entry]:
        return self.read_entries(self.pending)

    def snapshot(self, wavs: Path, prefix: str = "", only: set[tuple] | None = None) -> list[Entry]:
        """The pending entries (those whose `key()` is in `only`, when given), their wavs linked into
        `wavs` as `<prefix><file>`, both under the lock: an intake that replaces an entry afterwards
        changes neither the text nor the audio. FeedbackRejected when an entry of `only` is no
        longer pending as it was."""
        with self.locked():
            self.reconcile()
            entries = self.pending_entries()
            if only is not None:
                gone = sorted(key[0] for key in only - {e.key() for e in entries})
                if gone:
                    raise FeedbackRejected(f"the interrupted round trained on {len(gone)} clip(s) that are no longer "
                                           f"pending as they were ({', '.join(gone[:3])}): start a new round "
                                           f"without --resume")
                entries = [e for e in entries if e.key() in only]
            for e in entries:
                link_or_copy(self.pending / WAVS_DIR / e.file, wavs / f"{prefix}{e.file}")
        return entries

    def archived_rounds(self) -> list[tuple[Path, dict, list[Entry]]]:
        rounds = []
        for folder in sorted(self.archive.glob("*")) if self.archive.is_dir() else []:
            if folder.is_dir() and not folder.name.startswith("."):
                info = read_record(folder / ROUND_FILE, {})
                rounds.append((folder, info, self.read_entries(folder)))
        return rounds

    def _write_pending(self, entries: list[Entry]) -> None:
        """metadata.csv first, entries.json last: entries.json is the record of what is pending."""
        write_metadata(self.pending / TRAIN_FILE, [Clip(e.file, e.text) for e in entries])
        write_text_atomic(self.pending / ENTRIES_FILE, json.dumps([asdict(e) for e in entries], ensure_ascii=False, indent=1))

    # --- intake ----------------------------------------------------------------------------

    def add(self, recording: Path | bytes, text: str, characters, *, clip_id: str | None = None, donor: str = "",
            source: str = "", note: str = "", settings: audio.CleaningSettings | None = None,
            spoken_text: str = "", model: str = "", consent: str = "", key_name: str = "",
            label: str = "", voice: str = "") -> tuple[Entry, str]:
        """Clean (as the base data was: `settings`, by default `base_cleaning()`), check as a donation
        (`accept_clip` with `audio.check_donation`: clipping, loudness, letters a second) and store one
        correction; returns (entry, what happened: added|replaced|duplicate). `recording` is an audio
        file or its bytes (named `label` in messages); `key_name` names the service key that sent it;
        `voice` the voice of a multi-voice model it is for (checked by the caller against the model)."""
        settings = self.base_cleaning() if settings is None else settings
        if isinstance(recording, bytes):
            data, audio_path = recording, label or "the recording"
        else:
            audio_path = Path(recording)
            try:
                data = audio_path.read_bytes()
            except (OSError, ValueError) as e:  # ValueError: a NUL in the path
                raise FeedbackRejected(f"{audio_path}: cannot read the file ({e.strerror or e})") from e
        try:
            # a recording may hold silence around the voice, not hours of it: refused before it is decoded
            decoded, rate = audio.decode(data, max_seconds=audio.RAW_SECONDS_PER_LIMIT * settings.max_duration)
            cleaned, normalized = accept_clip(decoded, rate, text, characters, settings, donation=True)
        except UnsayableText as e:
            raise FeedbackRejected(f"{audio_path}: the text {text[:40]!r} has nothing the model can say") from e
        except AudioTooShortForText as e:
            raise FeedbackRejected(f"{audio_path}: {e.seconds:.1f} s of audio is too short for {e.characters} "
                                   "characters of text") from e
        except audio.ClipRejected as e:
            raise FeedbackRejected(f"{audio_path}: {e}", e.reason) from e
        spoken = normalized.text
        seconds = cleaned.size / settings.target_sr
        digest = hashlib.sha256(data).hexdigest()
        clip_id = clip_id or f"fb_{digest[:16]}"
        if not clip_id.replace("_", "").replace("-", "").isalnum() or len(clip_id) > MAX_ID_LENGTH:
            raise FeedbackRejected(f"id {clip_id[:40]!r}{'...' if len(clip_id) > 40 else ''}: use letters, digits, "
                                   f"'-' and '_' only, at most {MAX_ID_LENGTH} of them")
        # Named by content too: replacing an entry with other audio writes a new file, so that a kill before
        # the new entries.json leaves the old entry with its own audio (the unlisted new wav is removed later);
        # the same audio with a new text rewrites the same file, cleaned as before.
        entry = Entry(clip_id, f"{clip_id}-{digest[:12]}.wav", spoken, text, digest, round(seconds, 3), utc_now(), donor,
                      source, note, spoken_text, model, consent, key_name, voice)
        with self.locked():
            self.reconcile()
            entries = self.pending_entries()
            archived, archived_keys = {}, set()
            for folder, _, round_entries in self.archived_rounds():
                archived.update((e.sha256, folder.name) for e in round_entries)
                archived_keys.update(e.key() for e in round_entries)
            same_audio = next((e for e in entries if e.sha256 == digest and e.id != clip_id), None)
            if same_audio is not None:  # the same recording is already pending under another id
                return same_audio, f"duplicate (pending as {same_audio.id})"
            # trained on already (the very same correction, or this recording under an id not pending): not stored
            if entry.key() in archived_keys or digest in archived and not any(e.id == clip_id for e in entries):
                return entry, f"duplicate (archived in {archived[digest]})"
            if any(e.key() == entry.key() for e in entries):
                return entry, "already pending"
            replaced = any(e.id == clip_id for e in entries)
            # fsync'd: the only copy of what a user recorded (entries.json, written next, names it)
            write_bytes_atomic(self.pending / WAVS_DIR / entry.file, audio.encode_wav(cleaned, settings.target_sr))
            entries = [e for e in entries if e.id != clip_id] + [entry]
            self._write_pending(entries)
        return entry, "replaced" if replaced else "added"

    def base_cleaning(self) -> audio.CleaningSettings:
        """The cleaning the base data had (from its dataset.json), so that feedback clips match it; the
        defaults of prepare_data.py when there is no record."""
        return audio.CleaningSettings.from_arguments(read_dataset_record(self.data_dir).get("arguments", {}))

    def remove(self, clip_id: str, only_key: str | None = None) -> Entry:
        """Take a pending entry out (moderation, a donor's wish): its line and its wav go; FeedbackRejected
        when no entry of that id is pending, or (reason "not yours") when `only_key` is given and the
        entry was sent with another key."""
        with self.locked():
            self.reconcile()
            entries = self.pending_entries()
            found = next((e for e in entries if e.id == clip_id), None)
            if found is None:
                raise FeedbackRejected(f"no pending feedback entry {clip_id!r}")
            if only_key is not None and found.key_name != only_key:
                sender = f"key {found.key_name!r}" if found.key_name else "no key"
                raise FeedbackRejected(f"entry {clip_id!r} was sent with {sender}: only an admin key removes it",
                                       "not yours")
            self._write_pending([e for e in entries if e.id != clip_id])
            (self.pending / WAVS_DIR / found.file).unlink(missing_ok=True)
        return found

    # --- archiving -------------------------------------------------------------------------

    def archive_entries(self, snapshot: list[Entry], info: dict) -> Path | None:
        """Move exactly the `snapshot` entries that are still pending, unchanged, into archive/<UTC>/.

        Order of work, so that a kill at any point loses nothing and archives nothing twice:
        the archive folder is built complete under a temporary name and renamed; then
        entries.json of pending drops the entries; then their wavs are removed from pending.
        `reconcile` finishes that work if a kill interrupted it.
        """
        with self.locked():
            self.reconcile()
            pending = self.pending_entries()
            wanted = {e.key() for e in snapshot}
            moving = [e for e in pending if e.key() in wanted]
            if not moving:
                return None
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            target = self.archive / stamp
            tmp = self.archive / f".{stamp}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            (tmp / WAVS_DIR).mkdir(parents=True)
            for e in moving:
                link_or_copy(self.pending / WAVS_DIR / e.file, tmp / WAVS_DIR / e.file)
            write_metadata(tmp / TRAIN_FILE, [Clip(e.file, e.text) for e in moving])
            write_text_atomic(tmp / ENTRIES_FILE, json.dumps([asdict(e) for e in moving], ensure_ascii=False, indent=1))
            write_text_atomic(tmp / ROUND_FILE, json.dumps({**info, "archived": utc_now(), "clips": len(moving)}, indent=1))
            os.replace(tmp, target)
            self._write_pending([e for e in pending if e.key() not in wanted])
            self._remove_unlisted_wavs()
            return target

    # --- a round between installing its model and archiving ---------------------------------

    def record_round(self, snapshot: list[Entry], info: dict) -> None:
        """Note which entries went into the model `info` names (by `model_sha256`), just before that
        model is installed, so that a kill before they are archived is finished by the next run
        instead of leaving them to be trained on again. Call under the lock."""
        record = {"entries": [asdict(e) for e in snapshot], "info": info}
        write_text_atomic(self.root / IN_PROGRESS_FILE, json.dumps(record, ensure_ascii=False, indent=1))

    def recorded_round(self) -> tuple[list[Entry], dict] | None:
        """The snapshot and archive record left by `record_round`, or None."""
        record = read_record(self.root / IN_PROGRESS_FILE, None)
        if record is None:
            return None
        try:
            return [Entry.of(e) for e in record["entries"]], record["info"]
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise StoreDamaged(f"{self.root / IN_PROGRESS_FILE} is damaged ({e!r}): move it aside") from None

    def forget_round(self) -> None:
        (self.root / IN_PROGRESS_FILE).unlink(missing_ok=True)

    def reconcile(self) -> None:
        """Finish an archive that a kill interrupted; remove leftovers. Call under the lock."""
        for leftover in self.archive.glob(".*.tmp") if self.archive.is_dir() else []:
            shutil.rmtree(leftover, ignore_errors=True)
        pending = self.pending_entries()
        archived = {e.key() for _, _, entries in self.archived_rounds() for e in entries}
        still = [e for e in pending if e.key() not in archived]
        try:
            listed = read_metadata(self.pending / TRAIN_FILE) if (self.pending / TRAIN_FILE).is_file() else None
        except MetadataError:
            listed = None
        if len(still) != len(pending) or (still or listed) and listed != [Clip(e.file, e.text) for e in still]:
            self._write_pending(still)  # and mends a metadata.csv a kill left disagreeing with entries.json
        self._remove_unlisted_wavs()
        for leftover in self.pending.glob(".*.tmp") if self.pending.is_dir() else []:
            leftover.unlink(missing_ok=True)  # an atomic write a kill cut short (every write here holds the lock)

    def _remove_unlisted_wavs(self) -> None:
        """Wavs in pending/ that no entry lists: archived ones, or ones whose entry was never written."""
        listed = {e.file for e in self.pending_entries()}
        for wav in (self.pending / WAVS_DIR).glob("*") if (self.pending / WAVS_DIR).is_dir() else []:
            if wav.name not in listed:
                wav.unlink()


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link (no copy, and it keeps this version of the file if `source` is replaced later)."""
    if not source.is_file():
        raise MetadataError(f"{source} is listed but missing: restore it, or re-run prepare_data.py for base clips")
    try:
        os.link(source, target)
    except FileExistsError:
        raise  # never write through an existing name: it may be a link to another clip
    except OSError:  # another file system, or one without hard links: copy instead
        shutil.copy2(source, target)
