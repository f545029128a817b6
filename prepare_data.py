#!/usr/bin/env python3
"""Common Voice Kurmanji -> clean, speakable training data.

Reads a Common Voice dataset (a hub id, parquet files, a `save_to_disk` folder, or a
release folder `cv-corpus-*/kmr/`) and writes, under --output_dir (default `training/`):

    wavs/<id>.wav          16 kHz mono 16-bit PCM, trimmed and loudness-normalised
    metadata.csv           <id>.wav|<normalised text> (training clips); --voices: <id>.wav|<voice>|<text>
    metadata_eval.csv      the same for held-out evaluation clips
    dataset.json           source, arguments, counts kept and dropped per reason, hours, speakers
                           (with --min_dnsmos: the DNSMOS of the clips scored)
    stats.png              clip durations, clips per speaker, characters per second (and DNSMOS)

Each clip passes, in order: vote filter, speaker and gender selection, decode + downmix + resample,
silence trim (below the peak, above the noise floor) + duration filter, loudness, the Kurmanji text
normaliser, DNSMOS (--min_dnsmos); reading stops at `--max_samples` kept clips (unless `--top_speakers`, which then
keeps that many of the N busiest speakers' clips); then the speaking-rate filter, `--top_speakers`, `--min_clips_per_voice`.
Every drop is counted by reason. The parts: kurdish_tts/corpus/preparation.py, a clip's checks in acceptance.py.

    python prepare_data.py --max_samples 1000
    python prepare_data.py --dataset data/demo --min_duration 0.5 --output_dir training
    python prepare_data.py --dataset cv-corpus-21.0/kmr --split train.tsv --top_speakers 1
    python prepare_data.py --dataset cv-corpus-21.0/kmr --min_dnsmos 3.0   # drop clips drowned in noise
    python prepare_data.py --dataset cv-corpus-21.0/kmr --top_speakers 8 --voices   # 8 people, 8 voices
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

from tqdm import tqdm

from kurdish_tts import hub
from kurdish_tts.corpus import audio, denoising
from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE, WAVS_DIR, write_metadata
from kurdish_tts.corpus.naturalness import MIN_SECONDS
from kurdish_tts.corpus.preparation import (
    SHOW_EXAMPLES,
    Job,
    Outcome,
    begin_wavs,
    build_report,
    describe_voices,
    drop_speaking_rate_outliers,
    end_wavs,
    keep_top_speakers,
    keep_voices,
    listed,
    no_clips_message,
    passes_gender,
    passes_votes,
    plot_stats,
    process_all,
    split_eval,
    split_voices,
    voice_table,
)
from kurdish_tts.corpus.sources import Source, SourceError, open_source
from kurdish_tts.files import write_text_atomic
from kurdish_tts.text.vocabulary import MMS_KURMANJI, load_vocabulary

DEFAULT_DATASET = "amedcj/kurmanji-commonvoice"
AUDIO_SETTINGS = ("target_sr", "trim_db", "trim_floor_db", "normalize", "denoise")  # arguments that shape the written wavs
REPORT_FILE, STATS_FILE = "dataset.json", "stats.png"
OUTPUT_FILES = (TRAIN_FILE, EVAL_FILE, REPORT_FILE, STATS_FILE)  # written atomically at the end of a run


class NoClipsLeft(RuntimeError):
    """Every row was dropped: the message names the reason that dropped the most and what to change."""


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
    filters.add_argument("--voices", action="store_true", help="keep each person (--top_speakers N, --client_id) as a "
                         "voice of its own: metadata.csv names it, <id>.wav|cv-<8 hex of the client_id's SHA-1>|<text>")
    filters.add_argument("--min_clips_per_voice", type=int, default=10, help="--voices: fewer kept clips, dropped")
    filters.add_argument("--gender", help="keep only this gender (e.g. female, male: matches female_feminine too)")
    filters.add_argument("--max_samples", type=int,
                         help="stop after this many kept clips (with --top_speakers: keep the first this many of theirs)")
    filters.add_argument("--min_dnsmos", type=float, metavar="OVRL",
                         help="drop clips whose DNSMOS overall quality (1-5) lies below this: 3.0 keeps clean speech "
                              "(natural speech averages 3.0-3.3), 2.7 most laptop recordings (Common-Voice-like ones "
                              "average 2.8, 3.0 with --denoise rnnoise); both drop clips drowned in noise (20 dB SNR "
                              "about 2.3, white noise 1.1); about 0.2 s of a core "
                              "a clip, so off by default. dataset.json records BAK too, which tells noisy from clean "
                              "better but rates a buzz as clean")
    cleaning = parser.add_argument_group("audio")
    cleaning.add_argument("--target_sr", type=int, default=audio.TARGET_SR)
    cleaning.add_argument("--trim_db", type=float, default=audio.CleaningSettings.trim_db, help="trim edges quieter than this many dB below the peak")
    cleaning.add_argument("--trim_floor_db", type=float, default=audio.CleaningSettings.trim_floor_db, help="and edges within this many dB of the noise "
                          "floor (the quietest 5%% of frames), 0.1 s kept: the room noise a voice would learn; 0: off")
    cleaning.add_argument("--normalize", choices=["peak", "rms", "none"], default="peak",
                          help=f"loudness: peak to {audio.PEAK_TARGET_DB} dBFS, rms to {audio.RMS_TARGET_DB} dBFS (never clipping)")
    cleaning.add_argument("--denoise", choices=denoising.METHODS, default="none",
                          help="take steady background noise out first (RNNoise: about 60 ms of a core a second of audio; "
                               "the recordings are left as they are). Feedback clips are then denoised too")
    output = parser.add_argument_group("output")
    output.add_argument("--eval_size", type=int, help="held-out clips (default: 2%% of kept clips, at least a few; "
                                                      "with --voices, of each voice's)")
    output.add_argument("--seed", type=int, default=1234)
    output.add_argument("--overwrite", action="store_true", help="rebuild wavs that an earlier run already wrote")
    output.add_argument("--num_workers", type=int, default=os.cpu_count() or 1)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.min_duration >= args.max_duration:
        parser.error("--min_duration must be below --max_duration")
    if args.num_workers < 1:
        parser.error("--num_workers must be at least 1")
    if args.eval_size is not None and args.eval_size < 0:
        parser.error("--eval_size must be at least 0")
    if args.client_id and args.top_speakers:
        parser.error("--client_id and --top_speakers exclude each other")
    if any(n is not None and n < 1 for n in (args.top_speakers, args.max_samples)):
        parser.error("--top_speakers and --max_samples must be at least 1")
    if args.voices and not (args.top_speakers or args.client_id) or args.min_clips_per_voice < 1:
        parser.error("--min_clips_per_voice must be at least 1" if args.min_clips_per_voice < 1 else "--voices keeps "
                     "several people apart: choose them with --top_speakers N or --client_id (repeated)")
    if args.target_sr < 8000:
        parser.error(f"--target_sr {args.target_sr}: give the model's sampling rate in Hz (16000 for MMS)")
    if args.min_dnsmos is not None and not 1.0 <= args.min_dnsmos <= 5.0:
        parser.error(f"--min_dnsmos must lie on DNSMOS's scale, 1 to 5, not {args.min_dnsmos}")
    if args.min_dnsmos is not None and args.min_duration < MIN_SECONDS:
        parser.error(f"--min_dnsmos needs --min_duration of at least {MIN_SECONDS} (DNSMOS cannot score shorter clips)")
    try:
        return prepare(args)
    except (SourceError, hub.HubUnreachable, OSError, NoClipsLeft) as e:  # OSError: a missing file, a full disk
        print(f"error: {e}", file=sys.stderr)
        return 1


def prepare(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    source = open_source(args.dataset, args.split, args.audio_column, args.text_column)
    vocabulary = load_vocabulary(args.model_name_or_path)
    out = args.output_dir
    (wavs := out / WAVS_DIR).mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    shaping = {name: getattr(args, name) for name in ("dataset", *AUDIO_SETTINGS)}  # a clip's id is its name only
    args.overwrite = begin_wavs(out, shaping, args.overwrite, out / REPORT_FILE)
    speakers, settings = set(args.client_id) or None, audio.CleaningSettings.from_arguments(vars(args))

    print(f"source: {source.description}; vocabulary: {vocabulary.source}; workers: {args.num_workers}")
    dropped: Counter = Counter()
    examples: dict[str, list[str]] = {}
    kept: list[Outcome] = []
    scored: list[dict[str, float]] = []  # DNSMOS of every clip scored, kept or not
    seconds_in = 0.0
    unlisted: list[Path] = []  # wavs of clips dropped: removed once the new metadata is written, not before
    bar = tqdm(total=source.num_rows, unit="clip", desc="preparing", dynamic_ncols=True, mininterval=0.5)

    def tally(outcome: Outcome) -> None:
        nonlocal seconds_in
        seconds_in += outcome.seconds_in
        if outcome.dnsmos is not None:
            scored.append(outcome.dnsmos)
        if outcome.reason:
            dropped[outcome.reason] += 1
            if outcome.clip_id:  # an earlier run may have written its wav
                unlisted.append(wavs / f"{outcome.clip_id}.wav")
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
        """Drop a clip whose wav is written (its row has already moved the bar): the wav goes with it."""
        tally(Outcome(outcome.key, reason, detail, clip_id=outcome.clip_id))

    def discard(outcome: Outcome) -> None:  # a clip processed beyond --max_samples: not listed, its wav goes
        unlisted.append(wavs / f"{outcome.clip_id}.wav")

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
    if args.voices:
        kept = keep_voices(kept, args.min_clips_per_voice, drop_written)
    if not kept:
        raise NoClipsLeft(no_clips_message(dropped, source.description))
    if args.voices and len({o.speaker for o in kept}) < 2:
        raise NoClipsLeft("--voices kept one person only: a voice of its own needs others beside it; keep more "
                          "(--top_speakers, --client_id, a lower --min_clips_per_voice) or leave out --voices")
    train, held_out = (split_voices if args.voices else split_eval)(kept, args.eval_size, args.seed)
    write_metadata(out / TRAIN_FILE, listed(train, args.voices))
    write_metadata(out / EVAL_FILE, listed(held_out, args.voices))
    for path in unlisted:  # only now: a run that stops before leaves the old metadata's wavs in place
        path.unlink(missing_ok=True)
    end_wavs(out, shaping)
    report = build_report(vars(args), source, vocabulary, kept, train, held_out, dropped, examples, seconds_in, scored)
    if args.voices:
        report["voices"] = voice_table(kept, train)
    write_text_atomic(out / REPORT_FILE, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    plot_stats(kept, out / STATS_FILE, scored if args.min_dnsmos is not None else None, args.min_dnsmos)
    print_summary(report, examples, time.perf_counter() - started, out)
    return 0


def remove_leftovers(out: Path) -> None:
    """Remove the temporary files of a run killed mid-write: of wavs, and of the files written at the end."""
    leftovers = list((out / WAVS_DIR).glob(".*.tmp"))
    for name in OUTPUT_FILES:
        leftovers += out.glob(f".{glob.escape(name)}.*.tmp")
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)


def select_rows(source: Source, args, speakers, record, characters, settings, wavs: Path):
    """Yield a `Job` for every row that passes the filters known before decoding; record the rest.

    A clip's id comes from its key (its name), so a second row with the same key would share the
    first one's wav: it is dropped as a duplicate rather than paired with the other row's audio.
    """
    seen: set[str] = set()
    for row in source.rows:
        clip_id = "kmr_" + hashlib.sha1(row.key.encode("utf-8")).hexdigest()[:16]
        if not passes_votes(row, args.min_upvotes, args.max_downvotes):
            record(Outcome(row.key, "vote filter"))
        elif not passes_gender(row, args.gender):
            record(Outcome(row.key, "other gender"))
        elif not row.speaker and (args.top_speakers or args.voices):  # no client_id: whose clip is it?
            record(Outcome(row.key, "no speaker id"))
        elif speakers is not None and row.speaker not in speakers:
            record(Outcome(row.key, "other speaker"))
        elif row.problem:
            record(Outcome(row.key, row.problem))
        elif clip_id in seen:
            record(Outcome(row.key, "duplicate clip"))
        else:
            seen.add(clip_id)
            yield Job(row, clip_id, wavs / f"{clip_id}.wav", settings, characters, args.overwrite, args.min_dnsmos)


def print_summary(report: dict, examples: dict, seconds: float, out: Path) -> None:
    counts = report["counts"]
    total = counts["kept"] + counts["dropped_total"]
    reasons = ", ".join(f"{n} {reason}" for reason, n in counts["dropped"].items())
    print(f"kept {counts['kept']} of {total}{': ' + reasons if reasons else ''}")
    for reason, items in examples.items():
        print(f"  {reason}: {', '.join(items[:SHOW_EXAMPLES])}{' ...' if len(items) > SHOW_EXAMPLES else ''}")
    print(f"audio: {report['hours_before'] * 60:.1f} min decoded -> {report['hours_after'] * 60:.1f} min kept; "
          f"{report['speakers']['count']} speakers; {counts['train']} train + {counts['eval']} eval clips")
    if "voices" in report:
        print(describe_voices(report["voices"]))
    if "dnsmos" in report and report["dnsmos"]["scored"]:
        dnsmos = report["dnsmos"]
        print(f"DNSMOS OVRL of {dnsmos['scored']} clips scored: mean {dnsmos['ovrl']['mean']:.2f}, 10th percentile "
              f"{dnsmos['ovrl']['p10']:.2f}, median {dnsmos['ovrl']['median']:.2f}; "
              f"{counts['dropped'].get('low DNSMOS', 0)} below {dnsmos['min_ovrl']:g} dropped")
    if report["removed_characters"]:
        shown = ", ".join(f"{c!r} x{n}" for c, n in list(report["removed_characters"].items())[:10])
        print(f"characters the model cannot say, removed: {shown}")
    print(f"wrote {out / TRAIN_FILE}, {out / EVAL_FILE}, {out / REPORT_FILE}, {out / STATS_FILE} in {seconds:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
