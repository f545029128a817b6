"""A training round's data folder: the base clips and a snapshot of the pending feedback, linked, not copied.

    <staging>/wavs/<base clip>.wav                  hard links to the base data's wavs (training and held-out)
    <staging>/wavs/feedback_<id>-<hash>.wav         hard links to the snapshot's wavs in feedback/pending/
    <staging>/metadata.csv, metadata_eval.csv       the base clips, then the feedback; the held-out clips
"""

from __future__ import annotations

from pathlib import Path

from kurdish_tts.corpus.metadata import EVAL_FILE, TRAIN_FILE, WAVS_DIR, Clip, write_metadata
from kurdish_tts.feedback.store import Entry, FeedbackStore, link_or_copy
from kurdish_tts.training import TrainingError

STAGED_PREFIX = "feedback_"  # feedback wavs in a round's data folder: an app's id never collides with a base clip


def stage_clips(data_dir: Path, store: FeedbackStore, base: list[Clip], eval_clips: list[Clip],
                staging: Path, only: set[tuple] | None = None, voice: str = "") -> tuple[list[Entry], list[Clip]]:
    """A data folder for the round: hard links to the base wavs and to a snapshot of the pending
    feedback (the entries of `only`, for a resumed round): copied only where the file system cannot link. Returns the snapshot and
    its clips as the round names them. With `voice` (a multi-voice model's round), each feedback
    clip trains as the voice its entry names, else as `voice`.

    The links keep the snapshot's audio even if an entry is replaced while the round trains.
    """
    wavs = staging / WAVS_DIR
    wavs.mkdir()
    snapshot = store.snapshot(wavs, prefix=STAGED_PREFIX, only=only)
    if not snapshot:
        raise TrainingError(f"no feedback pending in {store.pending}: add some with --add_sample or --add_batch")
    for clip in base + eval_clips:
        link_or_copy(data_dir / WAVS_DIR / clip.file, wavs / clip.file)
    feedback_clips = [Clip(STAGED_PREFIX + e.file, e.text, (e.voice or voice) if voice else "") for e in snapshot]
    write_metadata(staging / TRAIN_FILE, base + feedback_clips)
    if eval_clips:
        write_metadata(staging / EVAL_FILE, eval_clips)
    return snapshot, feedback_clips
