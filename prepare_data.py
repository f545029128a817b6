#!/usr/bin/env python3
"""Common Voice Kurmanji -> clean, speakable training data.

Reads a Common Voice dataset (a hub id, parquet files, a `save_to_disk` folder, or a
release folder `cv-corpus-*/kmr/`) and writes, under --output_dir (default `training/`):

    wavs/<id>.wav          16 kHz mono 16-bit PCM, trimmed and loudness-normalised
    metadata.csv           <id>.wav|<normalised text>   (training clips)
    metadata_eval.csv      the same for held-out evaluation clips
    dataset.json           source, arguments, counts kept and dropped per reason, hours, speakers
    stats.png              clip durations, clips per speaker, characters per second

Each clip passes, in order: vote filter, speaker and gender selection, decode + downmix +
resample, silence trim + duration filter, loudness, the Kurmanji text normaliser; then the
speaking-rate filter, `--top_speakers` (by kept clips) and `--max_samples`. Every drop is
counted by reason.

    python prepare_data.py --max_samples 1000
    python prepare_data.py --dataset data/demo --min_duration 0.5 --output_dir training
    python prepare_data.py --dataset cv-corpus-21.0/kmr --split train.tsv --top_speakers 1
"""

from __future__ import annotations

import argparse
import glob
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
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from kurdish_tts import hub
from kurdish_tts.corpus import audio, charts
from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE, WAVS_DIR, Clip, tokens_of, too_short, write_metadata
from kurdish_tts.corpus.sources import Source, SourceError, SourceRow, open_source
from kurdish_tts.files import write_text_atomic
from kurdish_tts.text.normalizer import CARD_KEY as TEXT_VERSION_KEY
from kurdish_tts.text.normalizer import VERSION as TEXT_VERSION
from kurdish_tts.text.normalizer import normalize_text
from kurdish_tts.text.vocabulary import MMS_KURMANJI, load_vocabulary

DEFAULT_DATASET = "amedcj/kurmanji-commonvoice"
AUDIO_SETTINGS = ("target_sr", "trim_db", "normalize")  # arguments that shape the written wavs
CHUNK = 8  # clips sent to a worker at once
IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, memory stays flat
SHOW_EXAMPLES = 3
REPORT_FILE, STATS_FILE = "dataset.json", "stats.png"
OUTPUT_FILES = (TRAIN_FILE, EVAL_FILE, REPORT_FILE, STATS_FILE)  # written atomically at the end of a run


class ClientIdAction(argparse.Action):
    """--client_id, repeatable; the old spelling --speaker still works, with a notice (a "speaker" is a
    free-text name in train_feedback.py and an embedding index in --speaker_id)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string == "--speaker":
            print("notice: --speaker is now spelt --client_id (a Common Voice client_id)", file=sys.stderr)
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), values])  # the default list stays empty


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--dataset", default=DEFAULT_DATASET,
                      help="hub id, parquet file or folder, save_to_disk folder, or Common Voice release folder")
    data.add_argument("--split", help="hub, parquet or save_to_disk split (default: train), or a release folder's table: "
                                      "test or test.tsv reads test.tsv (default: validated.tsv)")
    data.add_argument("--audio_column", help="column holding {bytes, path} audio (default: audio or path)")
    data.add_argument("--text_column", help="column holding the sentence (default: sentence or text)")
    data.add_argument("--output_dir", type=Path, default=Path("training"))
    data.add_argument("--model_name_or_path", default=MMS_KURMANJI, help="model whose vocabulary the text must fit")
    filters = parser.add_argument_group("filters")
    filters.add_argument("--min_upvotes", type=int, default=2)
    filters.add_argument("--max_downvotes", type=int, default=0)
    filters.add_argument("--min_duration", type=float, default=1.0, help="seconds, after trimming")
    filters.add_argument("--max_duration", type=float, default=15.0, help="seconds, after trimming")
    filters.add_argument("--filter_speaking_rate", action="store_true",
                         help="drop clips whose characters per second lie outside the interquartile fences")
    filters.add_argument("--client_id", "--speaker", action=ClientIdAction, default=[], metavar="CLIENT_ID",
                         help="keep only this Common Voice client_id (repeatable; --speaker is its old spelling)")
    filters.add_argument("--top_speakers", type=int,
                         help="keep the N speakers with the most kept clips (every speaker's clips are processed first)")
    filters.add_argument("--gender", help="keep only this gender (e.g. female, male: matches female_feminine too)")
    filters.add_argument("--max_samples", type=int,
                         help="stop after this many kept clips (with --top_speakers: keep the first this many of theirs)")
    cleaning = parser.add_argument_group("audio")
    cleaning.add_argument("--target_sr", type=int, default=audio.TARGET_SR)
    cleaning.add_argument("--trim_db", type=float, default=40.0, help="trim edges quieter than this many dB below the peak")
    cleaning.add_argument("--normalize", choices=["peak", "rms", "none"], default="peak",
                          help=f"loudness: peak to {audio.PEAK_TARGET_DB} dBFS, rms to {audio.RMS_TARGET_DB} dBFS (never clipping)")
    output = parser.add_argument_group("output")
    output.add_argument("--eval_size", type=int, help="held-out clips (default: 2%% of kept clips, at least a few)")
    output.add_argument("--seed", type=int, default=1234)
    output.add_argument("--overwrite", action="store_true", help="rebuild wavs that an earlier run already wrote")
    output.add_argument("--num_workers", type=int, default=os.cpu_count() or 1)
    return parser


@dataclass
class Outcome:
    """What became of one clip: kept (with its text and duration) or dropped for a reason."""

    key: str
    reason: str = ""  # empty when kept
    detail: str = ""
    clip_id: str = ""
    text: str = ""
    speaker: str = ""
    seconds_in: float = 0.0  # decoded duration before trimming
    seconds: float = 0.0  # written duration
    removed: Counter = field(default_factory=Counter)  # characters the model cannot say


@dataclass(frozen=True)
class Job:
    row: SourceRow
    clip_id: str
    wav_path: Path
    settings: audio.CleaningSettings
    characters: frozenset
    overwrite: bool


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.min_duration >= args.max_duration:
        parser.error("--min_duration must be below --max_duration")
    if args.num_workers < 1:
        parser.error("--num_workers must be at least 1")
    if args.client_id and args.top_speakers:
        parser.error("--client_id and --top_speakers exclude each other")
    if any(n is not None and n < 1 for n in (args.top_speakers, args.max_samples)):
        parser.error("--top_speakers and --max_samples must be at least 1")
    if args.eval_size is not None and args.eval_size < 0:
        parser.error("--eval_size must be at least 0")
    try:
        return prepare(args)
    except (SourceError, hub.HubUnreachable, FileNotFoundError, NoClipsLeft) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


class NoClipsLeft(RuntimeError):
    pass


def prepare(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    source = open_source(args.dataset, args.split, args.audio_column, args.text_column)
    vocabulary = load_vocabulary(args.model_name_or_path)
    out = args.output_dir
    wavs = out / WAVS_DIR
    wavs.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    warn_if_audio_settings_changed(out, args)
    speakers = set(args.client_id) or None
    settings = audio.CleaningSettings.from_arguments(vars(args))

    print(f"source: {source.description}; vocabulary: {vocabulary.source}; workers: {args.num_workers}")
    dropped: Counter = Counter()
    examples: dict[str, list[str]] = {}
    kept: list[Outcome] = []
    seconds_in = 0.0
    bar = tqdm(total=source.num_rows, unit="clip", desc="preparing", dynamic_ncols=True, mininterval=0.5)

    def tally(outcome: Outcome) -> None:
        nonlocal seconds_in
        seconds_in += outcome.seconds_in
        if outcome.reason:
            dropped[outcome.reason] += 1
            named = examples.setdefault(outcome.reason, [])
            if len(named) <= SHOW_EXAMPLES:  # one more than shown, to know that there are more
                named.append(f"{outcome.key}{f' ({outcome.detail})' if outcome.detail else ''}")
        else:
            kept.append(outcome)

    def record(outcome: Outcome) -> None:
        """Count a row's outcome, whether a worker saw it or a filter dropped it before: each moves the bar."""
        tally(outcome)
        bar.update(1)
        bar.set_postfix(kept=len(kept), dropped=sum(dropped.values()), refresh=False)

    def drop_written(outcome: Outcome, reason: str, detail: str = "") -> None:
        """Drop a clip whose wav is already written, so that no unlisted wav stays behind (its row
        has already moved the bar)."""
        (wavs / f"{outcome.clip_id}.wav").unlink(missing_ok=True)
        tally(Outcome(outcome.key, reason, detail))

    def discard(outcome: Outcome) -> None:
        """A clip processed beyond --max_samples: its wav is not listed, so it does not stay."""
        if not outcome.reason:
            (wavs / f"{outcome.clip_id}.wav").unlink(missing_ok=True)

    jobs = select_rows(source, args, speakers, record, vocabulary.characters, settings, wavs)
    with closing(process_all(jobs, args.num_workers, discard)) as outcomes:
        for outcome in outcomes:
            record(outcome)
            if args.max_samples and not args.top_speakers and len(kept) >= args.max_samples:
                break
    bar.close()

    if args.filter_speaking_rate:
        kept = drop_speaking_rate_outliers(kept, drop_written)
    if args.top_speakers:
        kept = keep_top_speakers(kept, args.top_speakers, args.max_samples, drop_written)
    if not kept:
        raise NoClipsLeft(no_clips_message(dropped, source.description))
    train, held_out = split_eval(kept, args.eval_size, args.seed)
    write_metadata(out / TRAIN_FILE, [Clip(f"{o.clip_id}.wav", o.text) for o in train])
    write_metadata(out / EVAL_FILE, [Clip(f"{o.clip_id}.wav", o.text) for o in held_out])
    report = build_report(args, source, vocabulary, kept, train, held_out, dropped, examples, seconds_in)
    write_text_atomic(out / REPORT_FILE, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    plot_stats(kept, out / STATS_FILE)
    print_summary(report, examples, time.perf_counter() - started, out)
    return 0


def remove_leftovers(out: Path) -> None:
    """Remove the temporary files of a run killed mid-write: of wavs, and of the files written at the end."""
    leftovers = list((out / WAVS_DIR).glob(".*.tmp"))
    for name in OUTPUT_FILES:
        leftovers += out.glob(f".{glob.escape(name)}.*.tmp")
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)


def warn_if_audio_settings_changed(out: Path, args: argparse.Namespace) -> None:
    previous = out / REPORT_FILE
    if args.overwrite or not previous.is_file():
        return
    try:
        before = json.loads(previous.read_text(encoding="utf-8")).get("arguments", {})
    except json.JSONDecodeError:
        return
    changed = [name for name in AUDIO_SETTINGS if name in before and before[name] != getattr(args, name)]
    if changed:
        print(f"notice: wavs already in {out / WAVS_DIR} were made with other {', '.join(changed)}; "
              f"pass --overwrite to rebuild them", file=sys.stderr)


def passes_votes(row: SourceRow, args: argparse.Namespace) -> bool:
    """Rows without vote columns pass."""
    if row.up_votes is not None and row.up_votes < args.min_upvotes:
        return False
    return row.down_votes is None or row.down_votes <= args.max_downvotes


def passes_gender(row: SourceRow, args: argparse.Namespace) -> bool:
    if not args.gender:
        return True
    gender = row.gender.lower()
    return gender == args.gender.lower() or gender.startswith(args.gender.lower() + "_")


def select_rows(source: Source, args, speakers, record, characters, settings, wavs: Path):
    """Yield a `Job` for every row that passes the filters known before decoding; record the rest.

    A clip's id comes from its key (its name), so a second row with the same key would share the
    first one's wav: it is dropped as a duplicate rather than paired with the other row's audio.
    """
    seen: set[str] = set()
    for row in source.rows:
        clip_id = "kmr_" + hashlib.sha1(row.key.encode("utf-8")).hexdigest()[:16]
        if not passes_votes(row, args):
            record(Outcome(row.key, "vote filter"))
        elif not passes_gender(row, args):
            record(Outcome(row.key, "other gender"))
        elif speakers is not None and row.speaker not in speakers:
            record(Outcome(row.key, "other speaker"))
        elif row.problem:
            record(Outcome(row.key, row.problem))
        elif clip_id in seen:
            record(Outcome(row.key, "duplicate clip"))
        else:
            seen.add(clip_id)
            yield Job(row, clip_id, wavs / f"{clip_id}.wav", settings, characters, args.overwrite)


def process_all(jobs, num_workers: int, discard):
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


def _chunks(items, size: int):
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


def process_clip(job: Job) -> Outcome:
    """Clean one clip's audio and text and write its wav; runs in a worker process. A clip dropped
    now whose wav an earlier run wrote (its settings or filters were looser) loses that wav."""
    outcome = _process_clip(job)
    if outcome.reason:
        job.wav_path.unlink(missing_ok=True)
    return outcome


def _process_clip(job: Job) -> Outcome:
    row = job.row
    data = row.audio if row.audio is not None else row.audio_file
    seconds_in = None  # the source's decoded length: counted for every clip that decodes, kept or not
    try:
        info = None if job.overwrite else written_before(job.wav_path, job.settings.target_sr)
        if info is not None:  # written by an earlier run: the source's header says its length
            seconds_in = source_seconds(data)  # None when it no longer reads: decoding says why
        if seconds_in is not None:
            seconds = info.frames / info.samplerate
            if not job.settings.min_duration <= seconds <= job.settings.max_duration:
                raise audio.ClipRejected("too short" if seconds < job.settings.min_duration else "too long", f"{seconds:.2f} s")
            cleaned = None
        else:
            decoded, rate = audio.decode(data)
            seconds_in = decoded.shape[0] / rate
            cleaned = audio.clean_decoded(decoded, rate, job.settings)
            seconds = cleaned.size / job.settings.target_sr
    except audio.ClipRejected as e:
        return Outcome(row.key, e.reason, str(e).partition(": ")[2], seconds_in=seconds_in or 0.0)
    except OSError as e:
        return Outcome(row.key, "unreadable file", e.strerror or str(e))
    normalized = normalize_text(row.text, job.characters)
    if not normalized.text.strip():
        reason = "empty text" if not row.text.strip() else "nothing sayable in text"
        return Outcome(row.key, reason, row.text[:40], seconds_in=seconds_in)
    if too_short(round(seconds * job.settings.target_sr), tokens_of(normalized.text)):
        return Outcome(row.key, "audio too short for its text", f"{seconds:.2f} s, {len(normalized.text)} characters",
                       seconds_in=seconds_in)
    if cleaned is not None:
        audio.write_wav(job.wav_path, cleaned, job.settings.target_sr)
    return Outcome(row.key, clip_id=job.clip_id, text=normalized.text, speaker=row.speaker,
                   seconds_in=seconds_in, seconds=seconds, removed=normalized.removed)


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


def drop_speaking_rate_outliers(kept: list[Outcome], drop) -> list[Outcome]:
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


def keep_top_speakers(kept: list[Outcome], count: int, max_samples: int | None, drop) -> list[Outcome]:
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


def split_eval(kept: list[Outcome], eval_size: int | None, seed: int) -> tuple[list[Outcome], list[Outcome]]:
    """A reproducible held-out set: the same clips for the same data and seed."""
    if eval_size is None:
        eval_size = max(math.ceil(0.02 * len(kept)), min(4, len(kept) // 4))
    eval_size = min(eval_size, len(kept) - 1)
    ordered = sorted(kept, key=lambda o: o.clip_id)
    random.Random(seed).shuffle(ordered)
    held = sorted(ordered[:eval_size], key=lambda o: o.clip_id)
    held_ids = {o.clip_id for o in held}
    return [o for o in kept if o.clip_id not in held_ids], held


# What to change when a filter dropped the most clips, by reason
FILTER_ADVICE = {
    "vote filter": "lower --min_upvotes or raise --max_downvotes",
    "too short": "lower --min_duration",
    "too long": "raise --max_duration",
    "other speaker": "check the --client_id values (the dataset's client_id column)",
    "other gender": "check --gender against the dataset's gender values (female, male, ...) or leave it out",
    "speaking rate outlier": "leave out --filter_speaking_rate",
    "beyond --max_samples": "raise --max_samples",
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
    if not dropped:
        return f"the dataset has no rows ({description}): check that --dataset and --split name a table with clips in it"
    reason, count = dropped.most_common(1)[0]
    most = f"{sum(dropped.values())} dropped; most by '{reason}': {count}"
    if reason in FILTER_ADVICE:
        return f"no clip left after filtering ({most}); loosen that filter: {FILTER_ADVICE[reason]}"
    advice = DATA_ADVICE.get(reason, UNREADABLE_ADVICE)
    return f"no clip left ({most}): {advice}"


def build_report(args, source, vocabulary, kept, train, held_out, dropped, examples, seconds_in) -> dict:
    per_speaker = Counter(o.speaker for o in kept)
    removed: Counter = Counter()
    for outcome in kept:
        removed.update(outcome.removed)
    return {
        "source": {"kind": source.kind, "description": source.description, "columns": source.columns},
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "counts": {
            "kept": len(kept), "train": len(train), "eval": len(held_out),
            "dropped": dict(dropped.most_common()), "dropped_total": sum(dropped.values()),
        },
        "dropped_examples": {reason: items[:SHOW_EXAMPLES] for reason, items in examples.items()},
        "hours_before": round(seconds_in / 3600, 4),
        "hours_after": round(sum(o.seconds for o in kept) / 3600, 4),
        "speakers": {"count": len(per_speaker), "clips": dict(per_speaker.most_common())},
        "sample_rate": args.target_sr,
        "vocabulary": {"source": vocabulary.source, "characters": "".join(sorted(vocabulary.characters))},
        "removed_characters": dict(removed.most_common()),
        TEXT_VERSION_KEY: TEXT_VERSION,
    }


def plot_stats(kept: list[Outcome], path: Path) -> None:
    speakers = sorted(Counter(o.speaker for o in kept).values(), reverse=True)
    charts.save_panels([
        charts.histogram([o.seconds for o in kept], "clips by duration", "seconds", (31, 119, 180)),
        charts.bars(speakers, f"clips per speaker ({len(speakers)} speakers)", "speaker rank", (44, 160, 44)),
        charts.histogram([len(o.text) / o.seconds for o in kept], "clips by speaking rate", "characters per second", (255, 127, 14)),
    ], path)


def print_summary(report: dict, examples: dict, seconds: float, out: Path) -> None:
    counts = report["counts"]
    total = counts["kept"] + counts["dropped_total"]
    reasons = ", ".join(f"{n} {reason}" for reason, n in counts["dropped"].items())
    print(f"kept {counts['kept']} of {total}{': ' + reasons if reasons else ''}")
    for reason, items in examples.items():
        print(f"  {reason}: {', '.join(items[:SHOW_EXAMPLES])}{' ...' if len(items) > SHOW_EXAMPLES else ''}")
    print(f"audio: {report['hours_before'] * 60:.1f} min decoded -> {report['hours_after'] * 60:.1f} min kept; "
          f"{report['speakers']['count']} speakers; {counts['train']} train + {counts['eval']} eval clips")
    if report["removed_characters"]:
        shown = ", ".join(f"{c!r} x{n}" for c, n in list(report["removed_characters"].items())[:10])
        print(f"characters the model cannot say, removed: {shown}")
    print(f"wrote {out / TRAIN_FILE}, {out / EVAL_FILE}, {out / REPORT_FILE}, {out / STATS_FILE} in {seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
