"""Data preparation's parts: the per-clip work, the bounded process pool that runs it, the filters
over kept clips, the held-out split, and the record (dataset.json, stats.png) with its advice.

prepare_data.py strings them together. Every clip ends as an `Outcome`: kept, with its text and
durations, or dropped for a reason that the run counts and reports.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from kurdish_tts.corpus import audio, charts
from kurdish_tts.corpus.acceptance import LowNaturalness, accept_clip, accept_text, check_naturalness
from kurdish_tts.corpus.metadata import WAVS_DIR, Clip
from kurdish_tts.corpus.naturalness import MEASURES
from kurdish_tts.corpus.sources import Source, SourceRow
from kurdish_tts.files import read_json_object, write_text_atomic
from kurdish_tts.text import normalizer
from kurdish_tts.text.vocabulary import Vocabulary

CHUNK = 8  # clips sent to a worker at once
IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, memory stays flat
SHOW_EXAMPLES = 3  # dropped clips named per reason


@dataclass
class Outcome:
    """What became of one clip: kept (with its text and duration) or dropped for a reason."""

    key: str
    reason: str = ""  # empty when kept
    detail: str = ""
    clip_id: str = ""
    text: str = ""
    speaker: str = ""
    gender: str = ""
    seconds_in: float = 0.0  # decoded duration before trimming
    seconds: float = 0.0  # written duration
    removed: Counter = field(default_factory=Counter)  # characters the model cannot say
    dnsmos: dict[str, float] | None = None  # with --min_dnsmos: the clip's scores, kept or dropped for them


@dataclass(frozen=True)
class Job:
    """One clip for a worker: its row, the wav to write and how to clean it."""

    row: SourceRow
    clip_id: str
    wav_path: Path
    settings: audio.CleaningSettings
    characters: frozenset
    overwrite: bool
    min_dnsmos: float | None = None  # least DNSMOS OVRL; None: not scored


Drop = Callable[..., None]  # drop(outcome, reason, detail=""): a kept clip leaves, counted by reason

# --- the wavs already on disk ----------------------------------------------------------------

WAV_SETTINGS = ".wav_settings.json"  # the audio settings the wavs on disk were made with, written before any wav


def begin_wavs(out: Path, settings: dict, overwrite: bool, report: Path) -> bool:
    """Whether this run rebuilds the wavs already in `out`/wavs instead of reusing them: asked
    (--overwrite), made with other audio `settings`, or left half rebuilt by a run that stopped.
    Records the settings, and whether a rebuild is under way, before the first wav is written
    (`end_wavs` records that it finished). A folder from before the record: `report`'s arguments."""
    record = out / WAV_SETTINGS
    before = read_json_object(record) or {"settings": read_json_object(report).get("arguments")}
    earlier = before.get("settings") if isinstance(before.get("settings"), dict) else {}
    changed = [name for name, value in settings.items() if name in earlier and earlier[name] != value]
    rebuild = overwrite or bool(changed) or bool(before.get("rebuilding"))
    if rebuild and not overwrite:
        why = f"with other {', '.join(changed)}" if changed else "by a run that stopped while rebuilding them"
        print(f"notice: the wavs in {out / WAVS_DIR} were made {why}: this run rebuilds them", file=sys.stderr)
    write_text_atomic(record, json.dumps({"settings": settings, "rebuilding": rebuild}))
    return rebuild


def end_wavs(out: Path, settings: dict) -> None:
    """Record that the wavs on disk are all made with `settings` (a run finished)."""
    write_text_atomic(out / WAV_SETTINGS, json.dumps({"settings": settings, "rebuilding": False}))


# --- filters known before decoding ----------------------------------------------------------


def passes_votes(row: SourceRow, min_upvotes: int, max_downvotes: int) -> bool:
    """Rows without vote columns pass."""
    if row.up_votes is not None and row.up_votes < min_upvotes:
        return False
    return row.down_votes is None or row.down_votes <= max_downvotes


def passes_gender(row: SourceRow, gender: str | None) -> bool:
    """`gender` "female" matches "female" and "female_feminine"; no `gender` matches every row."""
    if not gender:
        return True
    wanted, given = gender.lower(), row.gender.lower()
    return given == wanted or given.startswith(wanted + "_")


# --- the process pool -----------------------------------------------------------------------


def process_all(jobs: Iterable[Job], num_workers: int, discard: Callable[[Outcome], None]) -> Iterator[Outcome]:
    """Process jobs in order, `num_workers` at a time, with a bounded queue: memory stays flat.

    Jobs travel in chunks of `CHUNK` so that inter-process traffic stays small next to the work.
    When the caller stops early (closes the generator), the outcomes of clips already processed
    but not taken, in the chunk being read and in chunks already running, go to `discard`.
    """
    if num_workers == 1:
        yield from map(process_clip, jobs)
        return
    with ProcessPoolExecutor(num_workers, initializer=_stop_with_parent, initargs=(os.getpid(),)) as pool:
        pending: deque = deque()
        ready: deque = deque()
        try:
            for chunk in _chunks(jobs, CHUNK):
                pending.append(pool.submit(_process_chunk, chunk))
                if len(pending) >= num_workers * IN_FLIGHT_PER_WORKER:
                    ready.extend(pending.popleft().result())
                    while ready:
                        yield ready.popleft()
            while pending:
                ready.extend(pending.popleft().result())
                while ready:
                    yield ready.popleft()
        finally:
            for future in pending:
                if not future.cancel() and future.exception() is None:  # already running
                    ready.extend(future.result())
            for outcome in ready:
                discard(outcome)


def _stop_with_parent(parent: int) -> None:
    """Worker initializer: exit once the main process is gone (killed with SIGKILL, say) instead of
    waiting forever for work that will not come. A wav it was writing stays a temporary file, which
    the next run removes."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _process_chunk(jobs: list[Job]) -> list[Outcome]:
    return [process_clip(job) for job in jobs]


# --- one clip -------------------------------------------------------------------------------


def process_clip(job: Job) -> Outcome:
    """Clean one clip's audio and text and write its wav; runs in a worker process. A clip dropped
    now keeps its id, so that the wav an earlier run wrote for it (its settings or filters were
    looser) can be removed once the new metadata no longer lists it, not before."""
    outcome = _process_clip(job)
    return replace(outcome, clip_id=job.clip_id) if outcome.reason else outcome


def _process_clip(job: Job) -> Outcome:
    row = job.row
    data = row.audio if row.audio is not None else row.audio_file
    seconds_in = None  # the source's decoded length: counted for every clip that decodes, kept or not
    try:
        info = None if job.overwrite else written_before(job.wav_path, job.settings.target_sr)
        raw_limit = audio.RAW_SECONDS_PER_LIMIT * job.settings.max_duration
        if info is not None:  # written by an earlier run: the source's header says its length
            seconds_in = source_seconds(data)  # None when it no longer reads: decoding says why
        if seconds_in is not None:
            audio.check_recorded_length(seconds_in, raw_limit)  # as a first run decides, from the header
            seconds = info.frames / info.samplerate
            audio.check_duration(seconds, job.settings)
            cleaned = None
            normalized = accept_text(row.text, job.characters, info.frames, info.samplerate)
        else:
            decoded, rate = audio.decode(data, max_seconds=raw_limit)
            seconds_in = decoded.shape[0] / rate
            cleaned, normalized = accept_clip(decoded, rate, row.text, job.characters, job.settings)
            seconds = cleaned.size / job.settings.target_sr
        scores = None
        if job.min_dnsmos is not None:  # last: the costliest check, paid only by clips that pass the others
            written = cleaned if cleaned is not None else sf.read(str(job.wav_path), dtype="float32")[0]
            scores = check_naturalness(written, job.settings.target_sr, job.min_dnsmos)
    except LowNaturalness as e:
        return Outcome(row.key, e.reason, str(e).partition(": ")[2], seconds_in=seconds_in, dnsmos=e.scores)
    except audio.ClipRejected as e:
        return Outcome(row.key, e.reason, str(e).partition(": ")[2], seconds_in=seconds_in or 0.0)
    except OSError as e:
        return Outcome(row.key, "unreadable file", e.strerror or str(e))
    if cleaned is not None:
        audio.write_wav(job.wav_path, cleaned, job.settings.target_sr)
    return Outcome(row.key, clip_id=job.clip_id, text=normalized.text, speaker=row.speaker,
                   gender=row.gender, seconds_in=seconds_in, seconds=seconds, removed=normalized.removed, dnsmos=scores)


def written_before(path: Path, rate: int):
    """The header of a complete wav an earlier run wrote, or None (missing, damaged, other rate)."""
    if not path.is_file():
        return None
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError):
        return None
    return info if info.frames > 0 and info.samplerate == rate else None


def source_seconds(data: bytes | Path) -> float | None:
    """The length of a clip's source audio from its header alone (a tenth of a millisecond, where
    decoding takes a hundred times that), or None when the header cannot be read."""
    try:
        info = sf.info(io.BytesIO(data) if isinstance(data, bytes) else str(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError):
        return None
    return info.frames / info.samplerate if info.samplerate > 0 else None


# --- filters over kept clips ----------------------------------------------------------------


def drop_speaking_rate_outliers(kept: list[Outcome], drop: Drop) -> list[Outcome]:
    """Drop clips whose characters per second lie outside [Q1 - 1.5 IQR, Q3 + 1.5 IQR]."""
    rates = np.array([len(o.text) / o.seconds for o in kept])
    if len(rates) < 4:
        return kept
    q1, q3 = np.percentile(rates, [25, 75])
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    result = []
    for outcome, rate in zip(kept, rates):
        if low <= rate <= high:
            result.append(outcome)
        else:
            drop(outcome, "speaking rate outlier", f"{rate:.1f} chars/s")
    return result


def keep_top_speakers(kept: list[Outcome], count: int, max_samples: int | None, drop: Drop) -> list[Outcome]:
    """The clips of the `count` speakers with the most kept clips (ties: the speaker seen first),
    at most `max_samples` of them."""
    per_speaker = Counter(o.speaker for o in kept)
    top = {speaker for speaker, _ in per_speaker.most_common(count)}
    result = []
    for outcome in kept:
        if outcome.speaker not in top:
            drop(outcome, "other speaker", f"{per_speaker[outcome.speaker]} kept clips")
        elif max_samples and len(result) >= max_samples:
            drop(outcome, "beyond --max_samples")
        else:
            result.append(outcome)
    return result


def voice_name(client_id: str) -> str:
    """A short name for a Common Voice person's voice that stays the same from run to run and never
    shows the client_id: "cv-" and 8 hex digits of its SHA-1."""
    return "cv-" + hashlib.sha1(client_id.encode("utf-8")).hexdigest()[:8]


def keep_voices(kept: list[Outcome], least: int, drop: Drop) -> list[Outcome]:
    """The clips of speakers with at least `least` kept clips: each becomes a voice of its own."""
    per_speaker = Counter(o.speaker for o in kept)
    result = []
    for outcome in kept:
        if per_speaker[outcome.speaker] < least:
            drop(outcome, "too few clips for a voice", f"{per_speaker[outcome.speaker]} kept clips")
        else:
            result.append(outcome)
    return result


def voice_table(kept: list[Outcome], train: list[Outcome]) -> dict[str, dict]:
    """dataset.json's "voices": for each voice (by name), its clips, training clips, minutes and
    gender (the most common the dataset gives its person, "" when none)."""
    table: dict[str, dict] = {}
    for outcome in sorted(kept, key=lambda o: voice_name(o.speaker)):
        row = table.setdefault(voice_name(outcome.speaker), {"clips": 0, "train": 0, "minutes": 0.0, "genders": Counter()})
        row["clips"] += 1
        row["minutes"] += outcome.seconds / 60
        row["genders"][outcome.gender] += 1
    for outcome in train:
        table[voice_name(outcome.speaker)]["train"] += 1
    for row in table.values():
        genders = row.pop("genders")
        row["gender"] = max(genders, key=lambda g: (bool(g), genders[g]))
        row["minutes"] = round(row["minutes"], 2)
    return table


def describe_voices(table: dict[str, dict]) -> str:
    """One line about `voice_table`'s voices, for the summary."""
    return f"{len(table)} voices: " + ", ".join(
        f"{name} ({row['clips']} clips, {row['minutes']:.1f} min{', ' + row['gender'] if row['gender'] else ''})"
        for name, row in table.items())


def split_voices(kept: list[Outcome], eval_size: int | None, seed: int) -> tuple[list[Outcome], list[Outcome]]:
    """`split_eval` for each voice on its own (`eval_size` of each), so that every voice is evaluated."""
    parts = [split_eval([o for o in kept if o.speaker == person], eval_size, seed)
             for person in sorted({o.speaker for o in kept})]
    train_ids = {o.clip_id for train, _ in parts for o in train}
    held_out = sorted((o for _, held in parts for o in held), key=lambda o: o.clip_id)
    return [o for o in kept if o.clip_id in train_ids], held_out


def listed(outcomes: list[Outcome], voices: bool) -> list[Clip]:
    """Metadata lines of kept clips; with `voices`, each names its person's voice."""
    return [Clip(f"{o.clip_id}.wav", o.text, voice_name(o.speaker) if voices else "") for o in outcomes]


def split_eval(kept: list[Outcome], eval_size: int | None, seed: int) -> tuple[list[Outcome], list[Outcome]]:
    """A reproducible held-out set: the same clips for the same data and seed. By default 2 % of the
    clips and at least 4 (a quarter of them when fewer than 16); at least one clip is left to train on."""
    if eval_size is None:
        eval_size = max(math.ceil(0.02 * len(kept)), min(4, len(kept) // 4))
    eval_size = min(eval_size, len(kept) - 1)
    ordered = sorted(kept, key=lambda o: o.clip_id)
    random.Random(seed).shuffle(ordered)
    held = sorted(ordered[:eval_size], key=lambda o: o.clip_id)
    held_ids = {o.clip_id for o in held}
    return [o for o in kept if o.clip_id not in held_ids], held


# --- the record -----------------------------------------------------------------------------

# What to change when a filter dropped the most clips, by reason
FILTER_ADVICE = {
    "vote filter": "lower --min_upvotes or raise --max_downvotes",
    "too short": "lower --min_duration",
    "too long": "raise --max_duration",
    "other speaker": "check the --client_id values (the dataset's client_id column)",
    "no speaker id": "--top_speakers and --voices count people by the client_id column, which these rows lack: leave them out",
    "other gender": "check --gender against the dataset's gender values (female, male, ...) or leave it out",
    "speaking rate outlier": "leave out --filter_speaking_rate",
    "beyond --max_samples": "raise --max_samples",
    "too few clips for a voice": "lower --min_clips_per_voice",
    "low DNSMOS": "lower --min_dnsmos (natural speech scores 3.0-3.3 OVRL, Common-Voice-like recordings about 2.8) or leave it out",
}
# What to check when the data itself could not be used (by default: clips that could not be read)
DATA_ADVICE = {
    "empty text": "those rows have no text: check the dataset's text column (--text_column)",
    "nothing sayable in text": "their text holds no character the model can say: check --text_column and --model_name_or_path",
    "audio too short for its text": "their audio is too short for their text: check that the dataset's text belongs to its audio",
    "silent": "those clips hold no sound: check the dataset's audio",
    "duplicate clip": "those rows name a clip already seen: check the dataset",
    "missing audio": "those rows hold no audio: check the dataset's audio column (--audio_column)",
    "missing clip file": "those clips could not be read: the files the table names are not in clips/; check the dataset",
}
UNREADABLE_ADVICE = "those clips could not be read: check the dataset's audio files"


def no_clips_message(dropped: Counter, description: str) -> str:
    """Why no clip is left, and what to change: the reason that dropped the most decides."""
    if not dropped:
        return f"the dataset has no rows ({description}): check that --dataset and --split name a table with clips in it"
    reason, count = dropped.most_common(1)[0]
    most = f"{sum(dropped.values())} dropped; most by '{reason}': {count}"
    if reason in FILTER_ADVICE:
        return f"no clip left after filtering ({most}); loosen that filter: {FILTER_ADVICE[reason]}"
    advice = DATA_ADVICE.get(reason, UNREADABLE_ADVICE)
    return f"no clip left ({most}): {advice}"


def build_report(arguments: dict, source: Source, vocabulary: Vocabulary, kept: list[Outcome], train: list[Outcome],
                 held_out: list[Outcome], dropped: Counter, examples: dict[str, list[str]], seconds_in: float,
                 scored: list[dict[str, float]] = ()) -> dict:
    """dataset.json: the source, the run's arguments (the cleaning that feedback intake repeats),
    counts kept and dropped by reason, hours, speakers and the vocabulary; with --min_dnsmos, the
    DNSMOS of the clips `scored` (kept and dropped for it: `dnsmos_summary`)."""
    per_speaker = Counter(o.speaker for o in kept)
    removed: Counter = Counter()
    for outcome in kept:
        removed.update(outcome.removed)
    report = {
        "source": {"kind": source.kind, "description": source.description, "columns": source.columns},
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in arguments.items()},
        "counts": {
            "kept": len(kept), "train": len(train), "eval": len(held_out),
            "dropped": dict(dropped.most_common()), "dropped_total": sum(dropped.values()),
        },
        "dropped_examples": {reason: items[:SHOW_EXAMPLES] for reason, items in examples.items()},
        "hours_before": round(seconds_in / 3600, 4),
        "hours_after": round(sum(o.seconds for o in kept) / 3600, 4),
        "speakers": {"count": len(per_speaker), "clips": dict(per_speaker.most_common())},
        "sample_rate": arguments["target_sr"],
        "vocabulary": {"source": vocabulary.source, "characters": "".join(sorted(vocabulary.characters))},
        "removed_characters": dict(removed.most_common()),
        normalizer.VERSION_KEY: normalizer.VERSION,
    }
    if arguments.get("min_dnsmos") is not None:
        report["dnsmos"] = dnsmos_summary(scored, arguments["min_dnsmos"])
    return report


def dnsmos_summary(scored: list[dict[str, float]], least: float) -> dict:
    """The least OVRL asked, how many clips were scored, and each DNSMOS measure's mean, 10th
    percentile, median and 90th percentile over them."""
    summary: dict = {"min_ovrl": least, "scored": len(scored)}
    for name in MEASURES:
        values = np.array([scores[name] for scores in scored])
        if values.size:
            p10, p50, p90 = np.percentile(values, [10, 50, 90])
            summary[name] = {"mean": round(float(values.mean()), 3), "p10": round(float(p10), 3),
                             "median": round(float(p50), 3), "p90": round(float(p90), 3)}
    return summary


def plot_stats(kept: list[Outcome], path: Path, scored: list[dict[str, float]] | None = None,
               least: float | None = None) -> None:
    """stats.png: clip durations, clips per speaker, characters per second; with `scored` (the DNSMOS
    of every clip scored, kept or not), their OVRL with the least kept (`least`) marked."""
    speakers = sorted(Counter(o.speaker for o in kept).values(), reverse=True)
    panels = [
        charts.histogram([o.seconds for o in kept], "clips by duration", "seconds", (31, 119, 180)),
        charts.bars(speakers, f"clips per speaker ({len(speakers)} speakers)", "speaker rank", (44, 160, 44)),
        charts.histogram([len(o.text) / o.seconds for o in kept], "clips by speaking rate", "characters per second", (255, 127, 14)),
    ]
    if scored is not None:
        # bins over the whole scale, 1 to 5, so that every run draws the same ones
        ovrl = np.clip([scores["ovrl"] for scores in scored], 1.0, 5.0)
        panels.append(charts.histogram(ovrl, f"clips scored by DNSMOS ({len(ovrl)})", "OVRL (line: --min_dnsmos)",
                                       (148, 103, 189), bins=np.linspace(1.0, 5.0, 41), marker=least))
    charts.save_panels(panels, path)
