#!/usr/bin/env python3
"""Many voices in one model: the stand-in fine-tuned on four natural speakers at once, beside one
voice trained on their pooled clips and one model per speaker.

Four clearly different natural speakers (--speakers; by default hevi, baran, rojda and welat: four
base styles, both sexes) read the same --clips `finetune` sentences in Common Voice conditions, as
Common Voice's people read the same sentences; prepare_data.py prepares them as a user prepares
Common Voice (--top_speakers 4 --voices, --min_dnsmos 2.7). From data/pretrained/model (or
--pretrained), each for
--steps steps at batch 8 and 1e-4, as a user fine-tunes:

    multi    one model, a voice per speaker (train_vits.py on the three-column data)
    pooled   one voice on every speaker's clips (the voice column dropped)
    single   one model per speaker, on that speaker's clips alone

Each speaks the --sentences held-out sentences as each speaker (multi: that speaker's voice; pooled:
its one voice; single: that speaker's model). Per speaker and run: DNSMOS OVRL, the judge's CER,
MCD-DTW to the speaker's clean renderings, duration and loudness against them, beside the stand-in
before training; and, for multi and single, the distinctness table: the MCD of speaker i's
synthesis to speaker j's clean renderings, whose row minimum must lie on the diagonal (each voice
nearest its own speaker). Runs keep their checkpoints in --work and are skipped once trained.

    python bench/bench_voices.py                  # about 50 min on 2 cores
    python bench/bench_voices.py --speakers hevi baran --clips 6 --steps 2 --sentences 2 --runs multi pooled
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_learning import MIN_DNSMOS, PRETRAINED, learnt_voice, measure, target_clean, work_folder

import prepare_data
import train_vits
from kurdish_tts.corpus.metadata import (
    DATASET_RECORD,
    EVAL_FILE,
    TRAIN_FILE,
    WAVS_DIR,
    Clip,
    read_metadata,
    write_metadata,
)
from kurdish_tts.corpus.preparation import voice_name
from kurdish_tts.feedback.store import link_or_copy
from kurdish_tts.samples import natural
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import Recognizer, mcd_dtw
from kurdish_tts.synthesis.voice import Settings, Voice

SPEAKERS = ("hevi", "baran", "rojda", "welat")
RUNS = ("multi", "pooled", "single")
RATE = 16_000
SHOWN = ("to_target", "cer", "dnsmos_ovrl", "duration_ratio", "loudness_ratio")


def prepared(args) -> Path:
    """The speakers' Common Voice release, prepared by prepare_data.py with --voices (made once)."""
    data = args.work / "data-multi"
    if (data / TRAIN_FILE).is_file():
        return data
    release = args.work / f"release-{'-'.join(args.speakers)}-{args.clips}"
    if not (release / "validated.tsv").is_file():
        natural.write_release(release, [natural.speaker(s) for s in args.speakers],
                              read_sentences("finetune")[:args.clips])
    argv = ["--dataset", str(release), "--output_dir", str(data), "--model_name_or_path", str(args.pretrained / "model"),
            "--top_speakers", str(len(args.speakers)), "--voices", "--min_clips_per_voice", "2", "--eval_size", "1",
            "--min_duration", "0.5", "--num_workers", "2"]
    if prepare_data.main([*argv, *(["--min_dnsmos", str(args.min_dnsmos)] if args.min_dnsmos else [])]) != 0:
        raise SystemExit(f"prepare_data.py failed on {release}")
    return data


def derived(source: Path, folder: Path, voice: str | None) -> Path:
    """One-voice data from the multi-voice folder: every clip (voice None) or one voice's, the voice
    column dropped; the wavs linked, not copied."""
    if (folder / TRAIN_FILE).is_file():
        return folder
    (folder / WAVS_DIR).mkdir(parents=True, exist_ok=True)
    for name in (TRAIN_FILE, EVAL_FILE):
        clips = [c for c in read_metadata(source / name) if voice is None or c.voice == voice]
        for clip in clips:
            if not (folder / WAVS_DIR / clip.file).is_file():
                link_or_copy(source / WAVS_DIR / clip.file, folder / WAVS_DIR / clip.file)
        write_metadata(folder / name, [Clip(c.file, c.text) for c in clips])
    shutil.copy2(source / DATASET_RECORD, folder / DATASET_RECORD)
    return folder


def train(data: Path, work: Path, args) -> Path:
    """Fine-tune the stand-in on `data` as a user does (resumable); -> the model folder."""
    model = work / "model"
    if (model / "config.json").is_file():
        return model
    checkpoints = work / "checkpoints"
    argv = ["--data_dir", str(data), "--model_name_or_path", str(args.pretrained / "model"), "--output_dir", str(model),
            "--checkpoint_dir", str(checkpoints), "--max_steps", str(args.steps), "--batch_size", str(args.batch_size),
            "--gradient_accumulation_steps", "1", "--learning_rate", str(args.learning_rate), "--mixed_precision", "no",
            "--eval_steps", "100000", "--save_steps", "100", "--save_total_limit", "1"]
    if any(checkpoints.glob("checkpoint-*")):
        argv.append("--resume")
    if train_vits.main(argv) != 0:
        raise SystemExit(f"train_vits.py failed on {data}")
    return model


def spoken(model: Path, texts: list[str], voice: str | None = None) -> list[np.ndarray]:
    engine = Voice(model)
    return [engine.speak(text, Settings(seed=0, voice=voice)) for text in texts]


def distinctness(syntheses: dict[str, list[np.ndarray]], clean: dict[str, list[np.ndarray]]) -> dict:
    """MCD-DTW (dB) of each speaker's synthesis (rows) to each speaker's clean renderings (columns)."""
    return {i: {j: float(np.mean([mcd_dtw(c, s, RATE) for c, s in zip(clean[j], syntheses[i])])) for j in clean}
            for i in syntheses}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", nargs="+", default=list(SPEAKERS), help="natural speakers of data/corpus/speakers.json")
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--clips", type=int, default=60, help="finetune sentences each speaker reads")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--min_dnsmos", type=float, default=MIN_DNSMOS, help="prepare_data.py's filter (0: none)")
    parser.add_argument("--sentences", type=int, default=12, help="held-out sentences each voice speaks")
    parser.add_argument("--pretrained", type=Path, default=PRETRAINED,
                        help="the stand-in to fine-tune: a folder holding model/ and build.json (data/pretrained)")
    parser.add_argument("--work", type=Path, help="checkpoints and data, kept for a rerun (default runs/bench_voices, "
                        "runs/bench_voices-<the last two parts of --pretrained> for another stand-in)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "voices.json")
    args = parser.parse_args(argv)
    args.work = args.work or work_folder("bench_voices", args.pretrained)
    for name in args.speakers:
        natural.speaker(name)  # an unknown name: one line, before any work
    names = {speaker: voice_name(natural.client_id(natural.speaker(speaker))) for speaker in args.speakers}
    data = prepared(args)
    sentences = read_sentences("heldout")[:args.sentences]
    texts = [spoken_text(s) for _, s in sentences]
    clean = {speaker: target_clean(speaker, sentences) for speaker in args.speakers}
    original = target_clean(learnt_voice(args.pretrained), sentences)  # what "to original" is measured to: the stand-in's own voice
    recognizer = Recognizer(ROOT / "data" / "judge")

    standin = spoken(args.pretrained / "model", texts)
    syntheses = {"stand-in": {speaker: standin for speaker in args.speakers}}
    if "multi" in args.runs:
        model = train(data, args.work / "multi", args)
        syntheses["multi"] = {speaker: spoken(model, texts, names[speaker]) for speaker in args.speakers}
    if "pooled" in args.runs:
        model = train(derived(data, args.work / "data-pooled", None), args.work / "pooled", args)
        audios = spoken(model, texts)
        syntheses["pooled"] = {speaker: audios for speaker in args.speakers}
    if "single" in args.runs:
        syntheses["single"] = {}
        for speaker in args.speakers:
            model = train(derived(data, args.work / f"data-{speaker}", names[speaker]), args.work / f"single-{speaker}",
                          args)
            syntheses["single"][speaker] = spoken(model, texts)

    scores = {run: {speaker: measure(audios, texts, clean[speaker], original, recognizer)
                    for speaker, audios in by_speaker.items()} for run, by_speaker in syntheses.items()}
    scores["speakers (clean)"] = {speaker: measure(clean[speaker], texts, clean[speaker], original, recognizer)
                                  for speaker in args.speakers}
    tables = {run: distinctness(syntheses[run], clean) for run in ("multi", "single") if run in syntheses}
    results = {"speakers": args.speakers, "voices": names, "clips": args.clips, "steps": args.steps,
               "batch_size": args.batch_size, "learning_rate": args.learning_rate, "sentences": len(texts),
               "scores": scores, "distinctness": tables,
               "diagonal": {run: all(min(row, key=row.get) == i for i, row in table.items())
                            for run, table in tables.items()}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print_tables(results)
    print(f"results: {args.output}")
    return 0


def print_tables(results: dict) -> None:
    print("| run | speaker | MCD to the speaker dB | judge CER | DNSMOS OVRL | duration | loudness |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for run, by_speaker in results["scores"].items():
        for speaker, row in by_speaker.items():
            print(f"| {run} | {speaker} | {row['to_target']:.2f} | {row['cer']:.1%} | {row['dnsmos_ovrl']:.2f} | "
                  f"{row['duration_ratio']:.2f} | {row['loudness_ratio']:.2f} |")
    for run, table in results["distinctness"].items():
        speakers = list(table)
        print(f"\n{run}: MCD-DTW (dB) of each voice (rows) to each speaker's clean renderings (columns); "
              f"row minimum on the diagonal: {'yes' if results['diagonal'][run] else 'NO'}")
        print("| voice \\ speaker | " + " | ".join(speakers) + " |")
        print("|---|" + "---:|" * len(speakers))
        for i in speakers:
            low = min(table[i], key=table[i].get)
            print(f"| {i} | " + " | ".join(f"**{table[i][j]:.2f}**" if j == low else f"{table[i][j]:.2f}"
                                           for j in speakers) + " |")


if __name__ == "__main__":
    sys.exit(main())
