"""Installing a feedback round's model in place of the current one, checking it first, and undoing it.

Beside the current model `models/kurdish` (the names follow its name):

    models/kurdish/round.json                 the round that installed it: its scores, the model it replaced
    models/kurdish-discriminator/             installed with its model, never rolled back
    models/kurdish-<UTC>[-<n>]/               a backup: the model a round, or a rollback, replaced
    models/kurdish-rejected/                  the last round's model that failed the install check, and its scores
    models/.kurdish-round[-discriminator]/    where a round saves its model before installing it
    models/.kurdish.old                       the model set aside while the new one takes its name

Every step can be killed: the next run repairs what a kill left (`restore_current_model`,
`finish_interrupted_round`), and no clip is lost or archived without the model it went into.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from kurdish_tts.corpus.metadata import EVAL_FILE, Clip
from kurdish_tts.feedback.names import backup_name, rejected_folder, round_folder, utc_stamp
from kurdish_tts.feedback.store import ROUND_FILE, Entry, FeedbackStore, read_record
from kurdish_tts.files import replace_folder, restore_replaced_folder, write_text_atomic
from kurdish_tts.training import TrainingError
from kurdish_tts.training.folders import discriminator_folder

# A round's model is not installed when, on the held-out clips, it is worse than the model it started from by more
# than: 0.05 in the judge's character error rate (absolute), 0.5 dB in MCD-DTW, a loudness ratio 1.5 times
# further from the recordings', or 0.25 in DNSMOS OVRL (how natural it sounds; natural speech scores 3.0-3.3, the
# stand-in about 2, silence 1.8-2.2, noise 1.1: BENCHMARKS.md's calibration table).
MARGINS = {"cer": 0.05, "mcd_dtw": 0.5, "loudness": 1.5, "dnsmos_ovrl": 0.25}


def model_record(folder: Path) -> dict:
    """What identifies a saved model after the next round has moved it to a dated backup."""
    weights = folder / "model.safetensors"
    with weights.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    saved = datetime.fromtimestamp(weights.stat().st_mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"model_sha256": digest, "model_saved": saved}


# --- the install check ---------------------------------------------------------------------


def install_check(before: str | Path, after: Path, data_dir: Path, eval_clips: list[Clip], seed: int,
                  recognizer=None, asr_model: str = "") -> dict:
    """Score the model `after` and the model `before` it started from on the held-out clips, spoken
    with `seed`, the CER by `recognizer` (loaded from `asr_model`; None: no CER); -> the scores and the
    ways `after` is worse beyond MARGINS (an empty list when there are no held-out clips)."""
    from kurdish_tts.scoring import measures
    from kurdish_tts.synthesis.voice import Voice

    if not eval_clips:
        print(f"no held-out clips ({EVAL_FILE}): the round's model is installed without a comparison")
        return {"clips": 0, "worse": []}
    summary = {}
    for name, model in (("before", before), ("after", after)):
        scores = measures.score_model(Voice(model), name, data_dir, eval_clips, seed, recognizer, with_dnsmos=True)
        summary[name] = {measure: float(np.mean([getattr(s, measure) for s in scores]))
                         for measure in ("mcd_dtw", "duration_ratio", "loudness_ratio", "cer")
                         if all(getattr(s, measure) is not None for s in scores)}
        scored = [s.dnsmos_ovrl for s in scores if s.dnsmos_ovrl is not None]  # clips long enough for DNSMOS
        if scored:
            summary[name]["dnsmos_ovrl"] = float(np.mean(scored))
    print(f"install check on {len(eval_clips)} held-out clips: " + ", ".join(
        f"{measure} {summary['before'][measure]:.3f} -> {summary['after'][measure]:.3f}"
        for measure in summary["after"] if measure in summary["before"]))  # DNSMOS may score one model's clips only
    return {"clips": len(eval_clips), **summary, "worse": regressions(summary["before"], summary["after"]),
            "margins": MARGINS, "asr_model": None if recognizer is None else str(asr_model)}


def regressions(before: dict, after: dict) -> list[str]:
    """The measures in which `after` is worse than `before` beyond MARGINS, each with both values."""
    worse = []
    if "cer" in after and after["cer"] > before["cer"] + MARGINS["cer"]:
        worse.append(f"CER {after['cer']:.3f} against {before['cer']:.3f}")
    if after["mcd_dtw"] > before["mcd_dtw"] + MARGINS["mcd_dtw"]:
        worse.append(f"MCD-DTW {after['mcd_dtw']:.2f} dB against {before['mcd_dtw']:.2f}")
    if abs(math.log(after["loudness_ratio"])) > abs(math.log(before["loudness_ratio"])) + math.log(MARGINS["loudness"]):
        worse.append(f"loudness ratio {after['loudness_ratio']:.2f} against {before['loudness_ratio']:.2f}")
    if "dnsmos_ovrl" in after and "dnsmos_ovrl" in before and (
            after["dnsmos_ovrl"] < before["dnsmos_ovrl"] - MARGINS["dnsmos_ovrl"]):
        worse.append(f"DNSMOS OVRL {after['dnsmos_ovrl']:.2f} against {before['dnsmos_ovrl']:.2f} (less natural)")
    return worse


def keep_rejected(new: Path, current: Path, scores: dict) -> Path:
    """Keep a round's model that failed the install check, with its scores, as `rejected_folder`
    (replacing the last one there); its discriminator goes."""
    kept = rejected_folder(current)
    shutil.rmtree(discriminator_folder(new), ignore_errors=True)  # first: alone, it would pass for an install's
    write_text_atomic(new / ROUND_FILE, json.dumps({"scores": scores}, indent=1))  # before the folder is in place
    replace_folder(new, kept)
    return kept


# --- installing and rolling back -----------------------------------------------------------


def keep_backup(current: Path, stamp: str) -> Path | None:
    """Keep the current model as `backup_name(<current>, stamp)`: a copy, made before the new model
    replaces it, so that the current model stays in place until then."""
    if not (current / "config.json").is_file():
        return None
    backup, number = current.with_name(backup_name(current.name, stamp)), 1
    while backup.exists():  # two rounds saved within the same second
        backup, number = current.with_name(backup_name(current.name, stamp, number)), number + 1
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


def rollback(store: FeedbackStore, current: Path) -> tuple[Path, Path | None]:
    """Put back the model the last round replaced (its round.json names it); the model rolled back is
    kept as a dated copy, as a round keeps the one it replaces. -> (the model put back, that copy).
    Call under the round lock."""
    record = read_record(current / ROUND_FILE, {})
    named = record.get("previous_model") if isinstance(record, dict) else None
    if not named:  # none, or "" from a round that replaced no model
        raise TrainingError(f"{current} was not installed by a round that replaced another model: nothing to roll back")
    previous = Path(named)
    if not (previous / "config.json").is_file():
        raise TrainingError(f"the model {current} replaced, {previous}, is gone: nothing to roll back to")
    stamp = utc_stamp()
    tmp = current.with_name(f".{current.name}.rollback")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(previous, tmp)
    with store.locked():
        kept = keep_backup(current, stamp)
        replace_folder(tmp, current)
    return previous, kept


# --- after a kill --------------------------------------------------------------------------


def archive_round(store: FeedbackStore, snapshot: list[Entry], info: dict) -> str:
    """Archive the snapshot of a round whose model is installed, then drop the round's record;
    -> what was archived, in words."""
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
        print(f"a round was interrupted before its model was installed, or that model is no longer {model} (rolled "
              f"back or replaced): its {len(snapshot)} clips stay pending")


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
