#!/usr/bin/env python3
"""Collect corrections and fine-tune on them, weighted above the bulk data; lose none.

Intake stores a recording and its text in `<data_dir>/feedback/pending/`, cleaned like
prepare_data.py's clips. A training round (no intake flag) trains the current model on the
base data (`metadata.csv`) merged with a snapshot of the pending feedback, each feedback clip
drawn --feedback_weight times as often as a base clip, through the same engine and flags as
train_vits.py. Unless it scores worse than the model it started from on the held-out clips
(`metadata_eval.csv`; else it is kept in `models/kurdish-rejected`), the new model replaces
`models/kurdish` (the previous one is kept as `models/kurdish-<UTC>`, which --rollback puts
back); with --archive_feedback the snapshot then moves to `feedback/archive/<UTC>/`. A round
that fails or is killed before its model is installed leaves every clip pending; if it is killed
after, the next run finishes its archive.

The store is kurdish_tts/feedback/store.py, the batch format batch.py beside it, and the
installation (the install check, backups, rollback, repairs after a kill) installation.py.

    python train_feedback.py --add_sample clip.wav "Rast nivîs" --donor amed --source app
    python train_feedback.py --add_sample clip.wav "Rast nivîs" --voice cv-3fa2b1c0   # a multi-voice model's voice
    python train_feedback.py --add_batch corrections.csv
    python train_feedback.py --list
    python train_feedback.py --max_steps 500 --archive_feedback
    python train_feedback.py --rollback
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from kurdish_tts import hub
from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE, MetadataError, read_metadata
from kurdish_tts.feedback import installation, names
from kurdish_tts.feedback.batch import read_batch, store_rows
from kurdish_tts.feedback.staging import stage_clips
from kurdish_tts.feedback.store import Entry, FeedbackRejected, FeedbackStore, StoreDamaged
from kurdish_tts.feedback.voices import check_round_voices, model_voices, round_voice, voice_checker
from kurdish_tts.files import write_text_atomic
from kurdish_tts.options import given_options, refuse
from kurdish_tts.scoring.measures import EvaluationError, Recognizer
from kurdish_tts.text.vocabulary import MMS_KURMANJI, VocabularyUnavailable, load_vocabulary
from kurdish_tts.training import TrainingError, TrainingInterrupted, add_training_arguments, check_arguments, train
from kurdish_tts.training.checkpoints import (
    checkpoint_record,
    latest_checkpoint,
    read_record,
    remove_run_checkpoints,
    resolve_resume,
)
from kurdish_tts.training.folders import discriminator_folder, logging_dir, output_folder_problem
from kurdish_tts.training.run import read_init_config

CURRENT_MODEL = Path("models/kurdish")
JUDGE = Path(__file__).resolve().parent / "data" / "judge"
STAGING_PREFIX = ".feedback-round-"  # a round's data folder, inside --data_dir while it trains


class DonorAction(argparse.Action):
    """--donor; the older spelling --speaker still works, with a notice (a voice is what a model speaks
    with, a donor the person who sends a correction)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string == "--speaker":
            print("notice: --speaker is now spelt --donor (who spoke the correction; --voice names a model's voice)",
                  file=sys.stderr)
        setattr(namespace, self.dest, values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    intake = parser.add_argument_group("feedback intake")
    action = intake.add_mutually_exclusive_group()
    action.add_argument("--add_sample", nargs=2, metavar=("AUDIO", "TEXT"), help="store one correction")
    action.add_argument("--add_batch", type=Path, metavar="FILE", help="store many: a CSV or JSON Lines file "
                        "with audio, text and optional id, donor, voice, source, note")
    action.add_argument("--list", action="store_true", help="show pending and archived feedback")
    action.add_argument("--rollback", action="store_true", help="put back the model the last round replaced")
    intake.add_argument("--donor", "--speaker", action=DonorAction, default="",
                        help="who spoke the correction (--speaker is its older spelling). With a multi-voice model, "
                             "--voice NAME says which voice the correction is for (a round trains it as that voice)")
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
    # A correction teaches what is said, which the prior reads: it learns unless --keep_prior says otherwise.
    add_training_arguments(parser, defaults={"model_name_or_path": None, "learning_rate": 1e-5, "num_epochs": 5,
                                             "keep_prior": "no",
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
        installation.restore_current_model(store, args.output_dir)
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
                previous, kept = installation.rollback(store, args.output_dir)
            print(f"rolled back: {args.output_dir} is {previous} again; the model rolled back is kept as {kept}")
            return 0
        if args.list:
            with contextlib.suppress(FeedbackRejected), store.round_lock():  # a running round finishes its own
                installation.finish_interrupted_round(store)
            return show(store)
        return training_round(store, args)
    except TrainingInterrupted as e:
        print(f"{e}; every feedback clip is still pending", file=sys.stderr)
        return 130
    except (FeedbackRejected, StoreDamaged, TrainingError, MetadataError, EvaluationError, VocabularyUnavailable,
            OSError) as e:
        # the project's own errors, and OSError (disk full, permissions); anything else is a bug, with its traceback
        print(f"error: {e}", file=sys.stderr)
        return 1


# What each mode reads; an option given with a mode that does not read it is refused, not ignored.
SHARED_OPTIONS = ("data_dir", "output_dir")
INTAKE_OPTIONS = ("add_sample", "add_batch", "donor", "voice", "source", "note", "model_name_or_path", "init_config")
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
        refuse(parser, given, ("donor", "source", "note"), "a training round",
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
    voice = voice_checker(args)(args.voice) if args.voice else ""
    entry, outcome = store.add(Path(audio_path), text, vocabulary_characters(args), donor=args.donor,
                               source=args.source, note=args.note, voice=voice)
    print(f"{outcome}: {entry.id} ({entry.seconds:.1f} s) \"{entry.text}\"")
    return 0


def add_batch(store: FeedbackStore, args) -> int:
    rows = read_batch(args.add_batch)
    stored, rejected = 0, 0
    for row in store_rows(store, rows, args.add_batch.parent, vocabulary_characters(args), donor=args.donor,
                          source=args.source, note=args.note, voice=args.voice or "", check_voice=voice_checker(args)):
        if row.entry is None:
            rejected += 1
            print(f"row {row.number}: rejected: {row.outcome}")
        else:
            stored += row.stored
            print(f"row {row.number}: {row.outcome}: {row.entry.id}")
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
        voice = f"  voice {e.voice}" if e.voice else ""
        print(f"  {e.added}  {e.id}  {e.seconds:4.1f} s  {e.donor or '-'}{voice}  \"{e.text}\"")


def training_round(store: FeedbackStore, args) -> int:
    with store.round_lock():
        for leftover in args.data_dir.glob(f"{STAGING_PREFIX}*"):  # from a round that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        installation.finish_interrupted_round(store)
        return run_round(store, args)


def run_round(store: FeedbackStore, args) -> int:
    if problem := output_folder_problem(args.output_dir):  # the round's model replaces it whole
        raise TrainingError(f"--output_dir: {problem}")
    base = [] if args.feedback_only else read_metadata(args.data_dir / TRAIN_FILE)
    eval_clips = read_metadata(args.data_dir / EVAL_FILE) if (args.data_dir / EVAL_FILE).is_file() else []
    # the install check's recogniser, loaded first: one that cannot judge is found now, not after the training
    recognizer = Recognizer(args.asr_model) if eval_clips and args.asr_model != "none" else None
    final_output = args.output_dir
    stamp = names.utc_stamp()  # the backup of the model it replaces is named after the round's start
    with tempfile.TemporaryDirectory(dir=args.data_dir, prefix=STAGING_PREFIX) as staging:
        staging = Path(staging)
        # A resumed round trains on the clips it staged before it was interrupted, not on what is pending now.
        resume_from = resolve_resume(args)
        staged = read_record(resume_from).get("snapshot") if resume_from else None
        voices = model_voices(args)
        default = round_voice(args, voices)
        if any(c.voice for c in base + eval_clips) and not default:
            raise TrainingError(f"the data in {args.data_dir} names voices, but {args.model_name_or_path} has one: "
                                "make it a model of those voices first (train_vits.py on that data)")
        if default:  # a multi-voice model: every clip trains as a voice, its own or the round's
            base, eval_clips = ([c if c.voice else replace(c, voice=default) for c in clips] for clips in (base, eval_clips))
        snapshot, feedback_clips = stage_clips(args.data_dir, store, base, eval_clips, staging,
                                               None if staged is None else {tuple(key) for key in staged}, default)
        check_round_voices(snapshot, voices, args.model_name_or_path)
        if default:  # held-out clips of voices this round does not train are not its to judge
            trained = {c.voice for c in base + feedback_clips}
            eval_clips = [c for c in eval_clips if c.voice in trained]
        print(f"round: {len(snapshot)} feedback clips (weight {args.feedback_weight:g}) + {len(base)} base clips; "
              f"from {args.model_name_or_path}")
        weights = [1.0] * len(base) + [args.feedback_weight] * len(snapshot)
        round_args = argparse.Namespace(**vars(args))
        round_args.data_dir = staging
        if default:  # the clips name their voices now
            round_args.voice, round_args.speaker_id = None, 0
        round_args.output_dir = names.round_folder(final_output)
        round_args.logging_dir = logging_dir(final_output, args.logging_dir)
        # leftovers of a killed round: the discriminator before its model (see installation.restore_current_model)
        for leftover in (discriminator_folder(round_args.output_dir), round_args.output_dir):
            shutil.rmtree(leftover, ignore_errors=True)
        train(round_args, base + feedback_clips, eval_clips, weights, record={"snapshot": [e.key() for e in snapshot]})
    # The round's model is saved: its checkpoints go now, before the install, so that no later --resume can
    # continue this round's training (and install its weights for clips it never saw).
    finished = latest_checkpoint(args.checkpoint_dir)  # the round's last checkpoint, saved as training ended
    if run_id := checkpoint_record(finished).get("run") if finished else None:
        remove_run_checkpoints(args.checkpoint_dir, run_id)
    scores = installation.install_check(args.model_name_or_path, round_args.output_dir, args.data_dir, eval_clips,
                                        args.seed, recognizer, args.asr_model)
    if scores["worse"] and not args.force_install:
        kept = installation.keep_rejected(round_args.output_dir, final_output, scores)
        raise TrainingError(f"the round's model was not installed: on {scores['clips']} held-out clips it is worse "
                            f"than {args.model_name_or_path} ({'; '.join(scores['worse'])}); it is kept in {kept}, "
                            f"every clip stays pending; --force_install installs a round's model whatever its scores")
    backup = installation.keep_backup(final_output, stamp)
    info = {"model": str(final_output.resolve()), "previous_model": str(backup.resolve() if backup else ""),
            "base_model": str(args.model_name_or_path), "feedback_weight": args.feedback_weight,
            "feedback_only": args.feedback_only, "scores": scores}
    write_text_atomic(round_args.output_dir / installation.ROUND_FILE, json.dumps(info, indent=1))
    info |= installation.model_record(round_args.output_dir)  # after round.json: found from any folder
    to_archive = (snapshot, info) if args.archive_feedback else None
    installation.install_model(store, round_args.output_dir, final_output, to_archive)
    print(f"new model in {final_output} (weights sha256 {info['model_sha256'][:12]})"
          + (f"; previous kept as {backup}" if backup else ""))
    if args.archive_feedback:
        print(f"archived {installation.archive_round(store, snapshot, info)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
