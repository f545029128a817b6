#!/usr/bin/env python3
"""Collect corrections and fine-tune on them, weighted above the bulk data; lose none.

Intake stores a recording and its text in `<data_dir>/feedback/pending/`, cleaned like
prepare_data.py's clips. A training round (no intake flag) trains the current model on the
base data (`metadata.csv`) merged with a snapshot of the pending feedback, each feedback clip
drawn --feedback_weight times as often as a base clip, through the same engine and flags as
train_vits.py. The new model replaces `models/kurdish` (the previous one is kept as
`models/kurdish-<UTC>`); with --archive_feedback the snapshot then moves to
`feedback/archive/<UTC>/`. A round that fails or is killed before its model is installed leaves
every clip pending; if it is killed after, the next run finishes its archive.

    python train_feedback.py --add_sample clip.wav "Rast nivîs" --speaker amed --source app
    python train_feedback.py --add_batch corrections.csv
    python train_feedback.py --list
    python train_feedback.py --max_steps 500 --archive_feedback
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kurdish_tts import hub
from kurdish_tts.corpus.metadata import (
    EVAL_FILE,
    TRAIN_FILE,
    WAVS_DIR,
    Clip,
    MetadataError,
    read_metadata,
    write_metadata,
)
from kurdish_tts.feedback.store import Entry, FeedbackRejected, FeedbackStore, link_or_copy
from kurdish_tts.files import replace_folder, restore_replaced_folder
from kurdish_tts.options import given_options, refuse
from kurdish_tts.scoring.measures import EvaluationError
from kurdish_tts.text.vocabulary import MMS_KURMANJI, VocabularyUnavailable, load_vocabulary
from kurdish_tts.training import TrainingError, TrainingInterrupted, add_training_arguments, check_arguments, train
from kurdish_tts.training.arguments import logging_dir
from kurdish_tts.training.checkpoints import (
    checkpoint_record,
    latest_checkpoint,
    read_record,
    remove_run_checkpoints,
    resolve_resume,
)
from kurdish_tts.training.output import discriminator_folder
from kurdish_tts.training.run import read_init_config

CURRENT_MODEL = Path("models/kurdish")
JUDGE = Path(__file__).resolve().parent / "data" / "judge"
ROUND_FILE = "round.json"  # in a model folder a round installed: its scores and the model it replaced
# A round's model is not installed when, on the held-out clips, it is worse than the model it started from by more
# than: 0.05 in the judge's character error rate (absolute), 0.5 dB in MCD-DTW, or a loudness ratio 1.5 times
# further from the recordings'.
MARGINS = {"cer": 0.05, "mcd_dtw": 0.5, "loudness": 1.5}
BATCH_COLUMNS = ("audio", "text", "id", "speaker", "source", "note")
STAGED_PREFIX = "feedback_"  # feedback wavs in a round's data folder: an app's id never collides with a base clip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    intake = parser.add_argument_group("feedback intake")
    action = intake.add_mutually_exclusive_group()
    action.add_argument("--add_sample", nargs=2, metavar=("AUDIO", "TEXT"), help="store one correction")
    action.add_argument("--add_batch", type=Path, metavar="FILE", help="store many: a CSV or JSON Lines file "
                        "with audio, text and optional id, speaker, source, note")
    action.add_argument("--list", action="store_true", help="show pending and archived feedback")
    action.add_argument("--rollback", action="store_true", help="put back the model the last round replaced")
    intake.add_argument("--speaker", default="", help="who spoke the correction")
    intake.add_argument("--source", default="", help="where it came from (an app, a person)")
    intake.add_argument("--note", default="", help="a remark kept with the correction")
    round_ = parser.add_argument_group("training round")
    round_.add_argument("--feedback_weight", type=float, default=5.0, help="a feedback clip is drawn this many times "
                        "as often as a base clip")
    round_.add_argument("--feedback_only", action="store_true", help="train on the feedback alone")
    round_.add_argument("--force_install", action="store_true", help="install the round's model even when it scores "
                        "worse than the model it started from on the held-out clips")
    round_.add_argument("--asr_model", default=str(JUDGE), help="speech recogniser for the install check's CER "
                        "('none' to leave the CER out)")
    round_.add_argument("--archive_feedback", action="store_true", help="after the new model is saved, move the "
                        "trained feedback to feedback/archive/<UTC>/")
    add_training_arguments(parser, defaults={"model_name_or_path": None, "learning_rate": 1e-5, "num_epochs": 5,
                                             "checkpoint_dir": Path("training/feedback_checkpoints"),
                                             "output_dir": CURRENT_MODEL})
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if not (math.isfinite(args.feedback_weight) and args.feedback_weight > 0):
        parser.error("--feedback_weight must be a number above 0")
    check_mode_options(parser, argv, args)
    problem = None if args.asr_model == "none" else hub.model_folder_problem(args.asr_model, hub_ids=False)
    if problem:
        parser.error(f"--asr_model: {problem}: pass a local speech-recognition model folder or 'none' to check the "
                     f"round's model without a CER")
    try:
        store = FeedbackStore(args.data_dir)
        restore_current_model(store, args.output_dir)
        if args.model_name_or_path is None:
            args.model_name_or_path = str(args.output_dir) if (args.output_dir / "config.json").is_file() else MMS_KURMANJI
        if args.discriminator is None and discriminator_folder(Path(args.model_name_or_path)).is_dir():
            args.discriminator = discriminator_folder(Path(args.model_name_or_path))  # trained on: it is not fresh again
        if args.add_sample:
            return add_sample(store, args)
        if args.add_batch:
            return add_batch(store, args)
        if args.rollback:
            with store.round_lock():
                return rollback(store, args.output_dir)
        if args.list:
            with contextlib.suppress(FeedbackRejected), store.round_lock():  # a running round finishes its own
                finish_interrupted_round(store)
            return show(store)
        return training_round(store, args)
    except TrainingInterrupted as e:
        print(f"{e}; every feedback clip is still pending", file=sys.stderr)
        return 130
    except (FeedbackRejected, TrainingError, MetadataError, EvaluationError, VocabularyUnavailable, OSError) as e:
        # the project's own errors, and OSError (disk full, permissions); anything else is a bug, with its traceback
        print(f"error: {e}", file=sys.stderr)
        return 1


# What each mode reads; an option given with a mode that does not read it is refused, not ignored.
SHARED_OPTIONS = ("data_dir", "output_dir")
INTAKE_OPTIONS = ("add_sample", "add_batch", "speaker", "source", "note", "model_name_or_path", "init_config")
SHOW_OPTIONS = ("list", "rollback")


def check_mode_options(parser: argparse.ArgumentParser, argv: list[str] | None, args: argparse.Namespace) -> None:
    given = given_options(build_parser, argv, args)
    if args.add_sample or args.add_batch:
        mode, allowed = ("--add_sample" if args.add_sample else "--add_batch"), SHARED_OPTIONS + INTAKE_OPTIONS
        why = "intake only stores the correction; training flags go with a training round (no intake flag)"
    elif args.list or args.rollback:
        mode, allowed = ("--list" if args.list else "--rollback"), SHARED_OPTIONS + SHOW_OPTIONS
        why = f"{mode} reads the feedback folder and the model folder only"
    else:
        refuse(parser, given, ("speaker", "source", "note"), "a training round",
               "they describe a correction: give them with --add_sample or --add_batch")
        return
    refuse(parser, given, sorted(given - set(allowed)), mode, why)


def vocabulary_characters(args) -> frozenset:
    """The characters the model of this round can say (for --init_config: the vocabulary it names)."""
    if args.init_config:
        return read_init_config(args.init_config)[1].characters
    return load_vocabulary(args.model_name_or_path).characters


def add_sample(store: FeedbackStore, args) -> int:
    audio_path, text = args.add_sample
    entry, outcome = store.add(Path(audio_path), text, vocabulary_characters(args), speaker=args.speaker,
                               source=args.source, note=args.note)
    print(f"{outcome}: {entry.id} ({entry.seconds:.1f} s) \"{entry.text}\"")
    return 0


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
            raise FeedbackRejected(f"--add_batch {path}: the CSV header must name audio and text (optional: id, speaker, "
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


def add_batch(store: FeedbackStore, args) -> int:
    rows = read_batch(args.add_batch)
    characters, settings = vocabulary_characters(args), store.base_cleaning()  # read once for the whole batch
    stored, rejected = 0, 0
    for number, row in enumerate(rows, start=1):
        try:
            if problem := row_problem(row):
                raise FeedbackRejected(problem)
            entry, outcome = store.add(args.add_batch.parent / row["audio"], row["text"], characters,
                                       clip_id=row.get("id") or None, speaker=row.get("speaker") or args.speaker,
                                       source=row.get("source") or args.source, note=row.get("note") or args.note,
                                       settings=settings)
        except (FeedbackRejected, OSError) as e:  # OSError: this row's file could not be stored; the others go on
            rejected += 1
            print(f"row {number}: rejected: {e}")
            continue
        stored += outcome in ("added", "replaced")
        print(f"row {number}: {outcome}: {entry.id}")
    print(f"{stored} stored, {rejected} rejected, {len(rows) - stored - rejected} already there")
    return 1 if rejected else 0


def show(store: FeedbackStore, newest: int = 5) -> int:
    describe("pending", store.pending_entries(), newest)
    rounds = store.archived_rounds()
    describe(f"archived in {len(rounds)} rounds", [e for _, _, entries in rounds for e in entries], newest)
    for folder, info, entries in rounds[-newest:]:
        weights = f" (weights sha256 {info['model_sha256'][:12]})" if "model_sha256" in info else ""
        print(f"  round {folder.name}: {len(entries)} clips -> {info.get('model', '?')}{weights}")
    return 0


def describe(label: str, entries: list[Entry], newest: int) -> None:
    print(f"{label}: {len(entries)} clips, {sum(e.seconds for e in entries) / 60:.1f} min")
    for e in sorted(entries, key=lambda e: e.added, reverse=True)[:newest]:
        print(f"  {e.added}  {e.id}  {e.seconds:4.1f} s  {e.speaker or '-'}  \"{e.text}\"")


def training_round(store: FeedbackStore, args) -> int:
    with store.round_lock():
        for leftover in args.data_dir.glob(".feedback-round-*"):  # from a round that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        finish_interrupted_round(store)
        return run_round(store, args)


def run_round(store: FeedbackStore, args) -> int:
    base = [] if args.feedback_only else read_metadata(args.data_dir / TRAIN_FILE)
    eval_clips = read_metadata(args.data_dir / EVAL_FILE) if (args.data_dir / EVAL_FILE).is_file() else []
    final_output = args.output_dir
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(dir=args.data_dir, prefix=".feedback-round-") as staging:
        staging = Path(staging)
        # A resumed round trains on the clips it staged before it was interrupted, not on what is pending now.
        resume_from = resolve_resume(args)
        staged = read_record(resume_from).get("snapshot") if resume_from else None
        snapshot, feedback_clips = stage_clips(args.data_dir, store, base, eval_clips, staging,
                                               None if staged is None else {tuple(key) for key in staged})
        print(f"round: {len(snapshot)} feedback clips (weight {args.feedback_weight:g}) + {len(base)} base clips; "
              f"from {args.model_name_or_path}")
        weights = [1.0] * len(base) + [args.feedback_weight] * len(snapshot)
        round_args = argparse.Namespace(**vars(args))
        round_args.data_dir = staging
        round_args.output_dir = round_folder(final_output)
        round_args.logging_dir = logging_dir(final_output, args.logging_dir)
        for leftover in (discriminator_folder(round_args.output_dir), round_args.output_dir):  # see restore_current_model
            shutil.rmtree(leftover, ignore_errors=True)
        train(round_args, base + feedback_clips, eval_clips, weights, record={"snapshot": [e.key() for e in snapshot]})
    # The round's model is saved: its checkpoints go now, before the install, so that no later --resume can
    # continue this round's training (and install its weights for clips it never saw).
    finished = latest_checkpoint(args.checkpoint_dir)  # the round's last checkpoint, saved as training ended
    if run_id := checkpoint_record(finished).get("run") if finished else None:
        remove_run_checkpoints(args.checkpoint_dir, run_id)
    scores = install_check(args, round_args.output_dir, eval_clips)
    if scores["worse"] and not args.force_install:
        kept = final_output.with_name(f"{final_output.name}-rejected")
        replace_folder(round_args.output_dir, kept)
        shutil.rmtree(discriminator_folder(round_args.output_dir), ignore_errors=True)
        (kept / ROUND_FILE).write_text(json.dumps({"scores": scores}, indent=1), encoding="utf-8")
        raise TrainingError(f"the round's model was not installed: on {scores['clips']} held-out clips it is worse "
                            f"than {args.model_name_or_path} ({'; '.join(scores['worse'])}); it is kept in {kept}, "
                            f"every clip stays pending; --force_install installs a round's model whatever its scores")
    backup = keep_backup(final_output, stamp)
    info = {"model": str(final_output.resolve()), "previous_model": str(backup.resolve() if backup else ""),
            "base_model": str(args.model_name_or_path), "feedback_weight": args.feedback_weight,
            "feedback_only": args.feedback_only, "scores": scores}
    (round_args.output_dir / ROUND_FILE).write_text(json.dumps(info, indent=1), encoding="utf-8")
    info |= model_record(round_args.output_dir)  # after round.json: found from any folder
    install_model(store, round_args.output_dir, final_output, (snapshot, info) if args.archive_feedback else None)
    print(f"new model in {final_output} (weights sha256 {info['model_sha256'][:12]})"
          + (f"; previous kept as {backup}" if backup else ""))
    if args.archive_feedback:
        print(f"archived {archive_round(store, snapshot, info)}")
    return 0


def install_check(args, new: Path, eval_clips: list[Clip]) -> dict:
    """Score the round's model and the one it started from on the held-out clips; -> the scores and
    the ways the new one is worse beyond MARGINS (an empty list when there are no held-out clips)."""
    from kurdish_tts.scoring import measures
    from kurdish_tts.synthesis.voice import Voice

    if not eval_clips:
        print(f"no held-out clips ({EVAL_FILE}): the round's model is installed without a comparison")
        return {"clips": 0, "worse": []}
    recognizer = None if args.asr_model == "none" else measures.Recognizer(args.asr_model)
    summary = {}
    for name, model in (("before", args.model_name_or_path), ("after", new)):
        scores = measures.score_model(Voice(model), name, args.data_dir, eval_clips, args.seed, recognizer)
        summary[name] = {measure: float(np.mean([getattr(s, measure) for s in scores]))
                         for measure in ("mcd_dtw", "duration_ratio", "loudness_ratio", "cer")
                         if all(getattr(s, measure) is not None for s in scores)}
    before, after = summary["before"], summary["after"]
    worse = []
    if "cer" in after and after["cer"] > before["cer"] + MARGINS["cer"]:
        worse.append(f"CER {after['cer']:.3f} against {before['cer']:.3f}")
    if after["mcd_dtw"] > before["mcd_dtw"] + MARGINS["mcd_dtw"]:
        worse.append(f"MCD-DTW {after['mcd_dtw']:.2f} dB against {before['mcd_dtw']:.2f}")
    if abs(math.log(after["loudness_ratio"])) > abs(math.log(before["loudness_ratio"])) + math.log(MARGINS["loudness"]):
        worse.append(f"loudness ratio {after['loudness_ratio']:.2f} against {before['loudness_ratio']:.2f}")
    print(f"install check on {len(eval_clips)} held-out clips: " + ", ".join(
        f"{measure} {before[measure]:.3f} -> {after[measure]:.3f}" for measure in after))
    return {"clips": len(eval_clips), "before": before, "after": after, "worse": worse, "margins": MARGINS,
            "asr_model": None if recognizer is None else str(args.asr_model)}


def rollback(store: FeedbackStore, current: Path) -> int:
    """Put back the model the last round replaced (its round.json names it); the model rolled back is
    kept as a dated copy, as a round keeps the one it replaces."""
    record = current / ROUND_FILE
    previous = Path(json.loads(record.read_text(encoding="utf-8")).get("previous_model") or "") if record.is_file() else None
    if previous is None or not str(previous):
        raise TrainingError(f"{current} was not installed by a round that replaced another model: nothing to roll back")
    if not (previous / "config.json").is_file():
        raise TrainingError(f"the model {current} replaced, {previous}, is gone: nothing to roll back to")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    tmp = current.with_name(f".{current.name}.rollback")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(previous, tmp)
    with store.locked():
        kept = keep_backup(current, stamp)
        replace_folder(tmp, current)
    print(f"rolled back: {current} is {previous} again; the model rolled back is kept as {kept}")
    return 0


def stage_clips(data_dir: Path, store: FeedbackStore, base: list[Clip], eval_clips: list[Clip],
                staging: Path, only: set[tuple] | None = None) -> tuple[list[Entry], list[Clip]]:
    """A data folder for the round: hard links to the base wavs and to a snapshot of the pending
    feedback (the entries of `only`, for a resumed round), nothing copied. Returns the snapshot and
    its clips as the round names them.

    The links keep the snapshot's audio even if an entry is replaced while the round trains; the
    feedback is named `feedback_<id>.wav` so that an app's id never collides with a base clip.
    """
    wavs = staging / WAVS_DIR
    wavs.mkdir()
    snapshot = store.snapshot(wavs, prefix=STAGED_PREFIX, only=only)
    if not snapshot:
        raise TrainingError(f"no feedback pending in {store.pending}: add some with --add_sample or --add_batch")
    for clip in base + eval_clips:
        link_or_copy(data_dir / WAVS_DIR / clip.file, wavs / clip.file)
    feedback_clips = [Clip(STAGED_PREFIX + e.file, e.text) for e in snapshot]
    write_metadata(staging / TRAIN_FILE, base + feedback_clips)
    if eval_clips:
        write_metadata(staging / EVAL_FILE, eval_clips)
    return snapshot, feedback_clips


def model_record(folder: Path) -> dict:
    """What identifies a saved model after the next round has moved it to a dated backup."""
    weights = folder / "model.safetensors"
    with weights.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    saved = datetime.fromtimestamp(weights.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"model_sha256": digest, "model_saved": saved}


def keep_backup(current: Path, stamp: str) -> Path | None:
    """Keep the current model as `<current>-<stamp>`: a copy, made before the new model replaces it,
    so that the current model stays in place until then."""
    if not (current / "config.json").is_file():
        return None
    backup, number = current.with_name(f"{current.name}-{stamp}"), 1
    while backup.exists():  # two rounds saved within the same second
        backup, number = current.with_name(f"{current.name}-{stamp}-{number}"), number + 1
    tmp = current.with_name(f".{backup.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(current, tmp)
    os.replace(tmp, backup)
    return backup


def install_model(store: FeedbackStore, new: Path, current: Path,
                  to_archive: tuple[list[Entry], dict] | None) -> None:
    """Make `new` the current model. The swap runs under the store's lock, so that an intake never
    finds it half done (see restore_current_model); `to_archive`, the snapshot and its archive
    record, is written in the same lock just before it (see finish_interrupted_round)."""
    with store.locked():
        if to_archive:
            store.record_round(*to_archive)
        replace_folder(new, current)
        if discriminator_folder(new).is_dir():
            replace_folder(discriminator_folder(new), discriminator_folder(current))


def archive_round(store: FeedbackStore, snapshot: list[Entry], info: dict) -> str:
    """Archive the snapshot of a round whose model is installed, then drop the round's record."""
    target = store.archive_entries(snapshot, info)
    store.forget_round()
    if target is None:
        return "0 clips (none still pending unchanged)"
    return f"{len(store.read_entries(target))} clips to {target}"


def finish_interrupted_round(store: FeedbackStore) -> None:
    """A round killed after installing its model but before archiving leaves its record: archive the
    clips it names now (those still pending unchanged), so that no round trains on them again. If the
    installed model is not the record's, the installation never completed and nothing was trained
    into it: drop the record, the clips stay pending. Call under the round lock."""
    recorded = store.recorded_round()
    if recorded is None:
        return
    snapshot, info = recorded
    model = Path(info["model"])
    if (model / "model.safetensors").is_file() and model_record(model)["model_sha256"] == info["model_sha256"]:
        print(f"finished the archive of a round interrupted after installing {model}: "
              f"{archive_round(store, snapshot, info)}")
    else:
        store.forget_round()
        print(f"a round was interrupted before installing its model: its {len(snapshot)} clips stay pending")


def round_folder(current: Path) -> Path:
    """Where a round saves its model (and, beside it, its discriminator) before installing them."""
    return current.with_name(f".{current.name}-round")


def restore_current_model(store: FeedbackStore, current: Path) -> None:
    """Repair a model installation that a kill interrupted: between the two renames of
    `replace_folder` (the folder left aside is put back), or between the swap of the model and
    that of its discriminator (the round's discriminator joins its model).

    A round's discriminator without its model can only be that second case: a round saves its model
    before its discriminator, installs them in the same order, and removes leftovers the other way."""
    for folder in (current, discriminator_folder(current)):
        if restore_replaced_folder(folder, store.locked()):
            print(f"restored {folder}, left aside by a model installation that was interrupted")
    trained = round_folder(current)
    if discriminator_folder(trained).is_dir() and not trained.exists():
        with store.locked():
            if discriminator_folder(trained).is_dir() and not trained.exists():  # not done by another process
                replace_folder(discriminator_folder(trained), discriminator_folder(current))
                print(f"installed {discriminator_folder(current)}, which an interrupted installation of {current} "
                      f"had left behind")


if __name__ == "__main__":
    sys.exit(main())
