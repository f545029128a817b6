#!/usr/bin/env python3
"""Fine-tuning recipes measured: which one moves a pretrained voice toward a new one and leaves it more natural?

data/pretrained/model (the stand-in, trained on espeak-ng `ku`, then on the natural speaker `berfin`) is fine-tuned as a user
fine-tunes MMS, on --clips `finetune` sentences of a voice it never heard (--target), once per
recipe and seed. The target is a natural speaker (default hevi: its clips recorded as Common Voice
records them and prepared by prepare_data.py, --min_dnsmos 2.7, as bench_learning.py does) or an
espeak-ng voice (ku+f3: the grids before 2026-12-06). Recipes:

    default       train_vits.py's defaults now (TRAINING_README "The recipe, and why"): --keep_prior auto
    learning      the defaults before --keep_prior (2026-12-06): the prior (text encoder, duration predictor,
                  flow) learns with the rest; every recipe below but `default-*` runs with --keep_prior no
    default-ema   --keep_prior auto, the model saved being the moving average of the generator's weights (--ema_decay
                  0.99), the decoder and posterior encoder at three times --learning_rate: the defaults of 2026-12-06
                  until the next recipe replaced them
    default-vocoder-1e-4  default-ema with the decoder and posterior encoder at 1e-4, --learning_rate: the defaults
                  since (with a kept prior, the vocoder at the rate)
    default-denoised  default-ema on the recordings prepared with --denoise rnnoise
    default-vocoder-5e-5  default-vocoder-1e-4 with the decoder and posterior encoder at half the rate, 5e-5
    vocoder-1e-4-denoised  default-vocoder-1e-4 on the recordings prepared with --denoise rnnoise
    fresh         a fresh discriminator, no warm-up: it drives the generator from the first step
    short-warmup  a fresh discriminator trained alone for 50 steps, the generator waiting, then adversarial
    slow-vocoder  fresh, with the decoder and posterior encoder at a quarter of --learning_rate
    ema           learning, the model saved being the moving average of the generator's weights (--ema_decay 0.99)
    prior-kept    learning, the text encoder and duration predictor frozen: the stand-in's pronunciation and timing kept
    flow-kept     prior-kept with the flow frozen too: only the posterior encoder and the decoder learn the new voice
    decoder-only  only the decoder (the vocoder) learns: the stand-in's latent speech kept whole
    flow-3e-5     prior-kept with the flow learning at 3e-5 (--prior_learning_rate): between prior-kept and flow-kept
    flow-1e-5     the same at 1e-5
    flow-frozen   learning, the flow alone frozen: the text encoder and duration predictor learn the new voice's prior
    flow-kept-denoised  flow-kept on the recordings prepared with --denoise rnnoise
    rehearsal     learning on the recordings as voice `target` beside the stand-in's own speech of the same
                  sentences as voice `standin` (--balance_voices): the stand-in rehearses what it knew while
                  `target` learns the new speaker; scored as `target`
    waiting       a fresh discriminator trained alone for 200 steps, the generator waiting
    own           the stand-in's own trained discriminator (--discriminator), no warm-up
    frozen        decoder, posterior encoder and flow frozen (only text encoder and durations learn), as waiting
    no-adversarial  mel, KL and duration losses only
    ramp          waiting, with both learning rates rising over their first 50 updates
    lr-2e-5       waiting, at train_vits.py's default learning rate, 2e-5, instead of --learning_rate
    gentle        the default warm-up, every part at 2e-5 (MMS's usual fine-tuning rate) whatever --learning_rate says
    reconstruction-first  200 warm-up steps in which the generator trains on mel, KL and duration, then adversarial
    no-adversarial-ramp   no-adversarial with both learning rates rising over their first 50 updates

each without the adversarial loss, parts held back or given rates of their own:

    text-frozen   the text encoder (trained by the KL loss alone) kept: the flow carries the new voice to the old prior
    text-duration-frozen  the text encoder and the duration predictor kept
    decoder-frozen  the vocoder kept: the posterior encoder learns latents it renders as the new voice
    prior-slow    text encoder, flow and duration predictor at 1e-5 (--prior_learning_rate)
    prior-fast    the same parts at 5e-4
    acoustic-slow  decoder and posterior encoder at 2.5e-5, a quarter of the grid's rate
    segment-64    64-frame segments: twice the audio through the vocoder a step
    acoustic-fast  decoder and posterior encoder at 3e-4 (--acoustic_learning_rate), three times the grid's rate

and, for a natural target, the data side with the `learning` recipe:

    unfiltered    the recordings prepared without the DNSMOS filter
    denoised      the recordings prepared with --denoise rnnoise (and the filter)
    untrimmed     the recordings prepared with --trim_floor_db 0: each clip's lead-in and tail of room noise kept
    clean         the target's clean renderings, no recording conditions at all (a diagnosis)

Every recipe but `default*`, `learning`, `ema`, `prior-kept`, `flow-*`, `decoder-only`, `rehearsal`, `unfiltered`,
`denoised`, `untrimmed` and `clean` trains the whole generator at one rate,
--learning_rate, unless it names rates of its own. At each of --points (steps; 0 is the stand-in
itself) the checkpoint of that step speaks the 20 held-out sentences, and the table gives, as
bench_learning.py does, the distance to the target's clean renderings (must fall), to the
original voice, the judge's CER (must stay within 0.05 of the start), DNSMOS OVRL (must rise,
for a natural target), the duration and loudness ratios (a collapse shows there), beside the
references (the target clean and as recorded, espeak-ng ku, noise, a buzz). Each run keeps its
checkpoints and scores in --work, so an interrupted grid goes on where it stopped; the table, a
plot and a JSON come out at the end.

    python bench/bench_finetune.py --recipes default fresh short-warmup ema unfiltered denoised --seeds 1   # ~70 min
    python bench/bench_finetune.py --target ku+f3 --recipes default own --seeds 1 --steps 100 --points 0 50 100
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_learning import (
    MIN_DNSMOS,
    PRETRAINED,
    is_natural,
    learnt_voice,
    measure,
    references,
    target_clean,
    training_data,
    work_folder,
)

import train_vits
from kurdish_tts.corpus import metadata
from kurdish_tts.corpus.audio import CleaningSettings
from kurdish_tts.feedback.store import link_or_copy
from kurdish_tts.samples import natural
from kurdish_tts.samples.folders import spoken_text
from kurdish_tts.samples.sentences import read_sentences
from kurdish_tts.scoring.measures import Recognizer
from kurdish_tts.synthesis.voice import Settings, Voice
from kurdish_tts.vits.voices import folder_voices

WAITING = ["--warmup_generator", "frozen", "--discriminator_warmup_steps", "200"]
NO_ADVERSARIAL = ["--weight_gen", "0", "--weight_fm", "0", "--discriminator_warmup_steps", "0"]
RECIPES = {
    "fresh": ["--discriminator_warmup_steps", "0"],
    "short-warmup": ["--warmup_generator", "frozen", "--discriminator_warmup_steps", "50"],
    "slow-vocoder": ["--discriminator_warmup_steps", "0", "--acoustic_learning_rate", "2.5e-5"],
    "waiting": WAITING,
    "own": ["--discriminator", "{pretrained}/discriminator", "--warmup_generator", "frozen"],
    "frozen": ["--freeze", "decoder", "posterior_encoder", "flow", *WAITING],
    "no-adversarial": NO_ADVERSARIAL,
    "ramp": ["--lr_warmup_steps", "50", *WAITING],
    "lr-2e-5": ["--learning_rate", "2e-5", "--acoustic_learning_rate", "2e-5", *WAITING],  # last wins
    "gentle": ["--learning_rate", "2e-5", "--acoustic_learning_rate", "2e-5"],
    "reconstruction-first": ["--warmup_generator", "reconstruction", "--discriminator_warmup_steps", "200"],
    "no-adversarial-ramp": [*NO_ADVERSARIAL, "--lr_warmup_steps", "50"],
    "text-frozen": [*NO_ADVERSARIAL, "--freeze", "text_encoder"],
    "prior-slow": [*NO_ADVERSARIAL, "--prior_learning_rate", "1e-5"],
    "prior-fast": [*NO_ADVERSARIAL, "--prior_learning_rate", "5e-4"],
    "acoustic-slow": [*NO_ADVERSARIAL, "--acoustic_learning_rate", "2.5e-5"],
    "text-duration-frozen": [*NO_ADVERSARIAL, "--freeze", "text_encoder", "duration_predictor"],
    "decoder-frozen": [*NO_ADVERSARIAL, "--freeze", "decoder"],
    "segment-64": [*NO_ADVERSARIAL, "--segment_frames", "64"],
    "acoustic-fast": [*NO_ADVERSARIAL, "--acoustic_learning_rate", "3e-4"],
    "default": [],
    "learning": ["--keep_prior", "no"],
    "default-ema": ["--keep_prior", "auto", "--ema_decay", "0.99", "--acoustic_learning_rate", "{three_times}"],
    "default-vocoder-1e-4": ["--keep_prior", "auto", "--acoustic_learning_rate", "1e-4"],
    "default-vocoder-5e-5": ["--keep_prior", "auto", "--acoustic_learning_rate", "5e-5"],
    "default-denoised": ["--keep_prior", "auto", "--acoustic_learning_rate", "{three_times}"],
    "vocoder-1e-4-denoised": ["--keep_prior", "auto", "--acoustic_learning_rate", "1e-4"],
    "unfiltered": [],
    "denoised": [],
    "untrimmed": [],
    "ema": ["--ema_decay", "0.99"],
    "prior-kept": ["--freeze", "text_encoder", "duration_predictor"],
    "rehearsal": ["--balance_voices"],
    "flow-kept": ["--freeze", "text_encoder", "duration_predictor", "flow"],
    "decoder-only": ["--freeze", "text_encoder", "duration_predictor", "flow", "posterior_encoder"],
    "flow-3e-5": ["--freeze", "text_encoder", "duration_predictor", "--prior_learning_rate", "3e-5"],
    "flow-1e-5": ["--freeze", "text_encoder", "duration_predictor", "--prior_learning_rate", "1e-5"],
    "flow-frozen": ["--freeze", "flow"],
    "flow-kept-denoised": ["--freeze", "text_encoder", "duration_predictor", "flow"],
    "clean": [],
}
DEFAULTS = ("default", "learning", "default-ema", "default-vocoder-1e-4", "default-vocoder-5e-5", "default-denoised", "vocoder-1e-4-denoised",
            "unfiltered", "denoised",
            "untrimmed", "ema", "prior-kept", "flow-kept", "decoder-only", "flow-3e-5", "flow-1e-5", "flow-frozen",
            "flow-kept-denoised", "rehearsal", "clean")  # recipes that keep train_vits.py's own rates
MEASURES = ("to_target", "to_original", "cer", "dnsmos_ovrl", "duration_ratio", "loudness_ratio")


def data_for(name: str, args) -> Path:
    """The prepared training folder recipe `name` trains on (made once, shared by the recipes alike)."""
    if name == "clean" and is_natural(args.target):  # the target's clean renderings: no recording conditions
        data = args.work / f"data-{args.target}-{args.clips}-clean" / "data"
        if not (data / "metadata.csv").is_file():
            natural.write_folder(data, natural.speaker(args.target), ["finetune"], [], limit=args.clips)
        return data
    if name == "rehearsal":
        return rehearsal_data(data_for("default", args), args.work / f"data-{args.target}-{args.clips}-rehearsal" / "data",
                              args.pretrained / "model")
    kind = {}
    if is_natural(args.target):  # prepare_data.py's filter, denoiser and trim: the data side
        kind = {"min_dnsmos": None if name == "unfiltered" else args.min_dnsmos,
                "denoise": "rnnoise" if name.endswith("denoised") else "none",
                "trim_floor_db": 0.0 if name == "untrimmed" else CleaningSettings().trim_floor_db}
    label = "-".join(f"{k}{v}" for k, v in kind.items())
    return training_data(args.target, args.work / f"data-{args.target}-{args.clips}{'-' + label if label else ''}",
                         args.clips, **kind)


def rehearsal_data(base: Path, folder: Path, model: Path) -> Path:
    """`base`'s clips as voice `target` beside `model` speaking the same texts as voice `standin`
    (three-column metadata; made once)."""
    import soundfile as sf

    if (folder / metadata.TRAIN_FILE).is_file():
        return folder
    (folder / metadata.WAVS_DIR).mkdir(parents=True, exist_ok=True)
    voice = Voice(model)
    for name in (metadata.TRAIN_FILE, metadata.EVAL_FILE):
        clips = metadata.read_metadata(base / name)
        for clip in clips:
            link_or_copy(base / metadata.WAVS_DIR / clip.file, folder / metadata.WAVS_DIR / clip.file)
        spoken = [metadata.Clip(f"standin-{clip.file}", clip.text, "standin") for clip in clips]
        for clip in spoken:
            sf.write(folder / metadata.WAVS_DIR / clip.file, voice.speak(clip.text, Settings(seed=0)), voice.sampling_rate)
        metadata.write_metadata(folder / name, [metadata.Clip(c.file, c.text, "target") for c in clips] + spoken)
    shutil.copy2(base / metadata.DATASET_RECORD, folder / metadata.DATASET_RECORD)
    return folder


def run_recipe(name: str, seed: int, args, data: Path, work: Path) -> None:
    """Train one recipe and seed (resumable: --resume when its checkpoints are there)."""
    if (work / "model" / "config.json").is_file():  # trained to the end already
        return
    checkpoints = work / "checkpoints"
    every = math.gcd(*[p for p in args.points if p > 0])  # a checkpoint at every point
    # Every recipe but those in DEFAULTS trains the whole generator at --learning_rate unless it names a rate of its own.
    one_rate = [] if name in DEFAULTS else ["--acoustic_learning_rate", str(args.learning_rate)]
    # Recipes measured before --keep_prior keep their prior learning, as then.
    learning = [] if name == "default" or "--keep_prior" in RECIPES[name] else ["--keep_prior", "no"]
    argv = ["--data_dir", str(data), "--model_name_or_path", str(args.pretrained / "model"), "--output_dir",
            str(work / "model"), "--checkpoint_dir", str(checkpoints), "--max_steps", str(args.steps),
            "--batch_size", str(args.batch_size), "--gradient_accumulation_steps", "1", "--learning_rate",
            str(args.learning_rate), "--mixed_precision", "no", "--eval_steps", "100000", "--seed", str(seed),
            "--save_steps", str(every), "--save_total_limit", "1000", *one_rate, *learning,
            *(flag.format(pretrained=args.pretrained, three_times=3 * args.learning_rate) for flag in RECIPES[name])]
    if any(checkpoints.glob("checkpoint-*")):
        argv.append("--resume")
    code = train_vits.main(argv)
    if code != 0:
        raise SystemExit(f"recipe {name}, seed {seed}: train_vits.py exited {code}")


def score_point(model: Path, texts, target, original, recognizer) -> dict:
    voice = Voice(model)
    name = "target" if "target" in folder_voices(model) else None  # a rehearsal model speaks as the target's voice
    return measure([voice.speak(t, Settings(seed=0, voice=name)) for t in texts], texts, target, original, recognizer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--points", nargs="+", type=int, default=[0, 100, 200, 300])
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--sentences", type=int, default=20, help="held-out sentences scored at each point")
    parser.add_argument("--target", default="hevi", help="a natural speaker (hevi, baran) or an espeak-ng voice (ku+f3)")
    parser.add_argument("--min_dnsmos", type=float, default=MIN_DNSMOS,
                        help="prepare_data.py's filter on a natural target's recordings (but for `unfiltered`)")
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--judge", type=Path, default=ROOT / "data" / "judge",
                        help="the recogniser for the CER (data/judge-espeak reproduces figures before 2026-12-05)")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--pretrained", type=Path, default=PRETRAINED,
                        help="the stand-in to fine-tune: a folder holding model/, discriminator/ and build.json")
    parser.add_argument("--work", type=Path, help="checkpoints and data, kept for a rerun (default runs/bench_finetune, "
                        "runs/bench_finetune-<the last two parts of --pretrained> for another stand-in)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "finetune.json")
    parser.add_argument("--picture", type=Path, default=ROOT / "bench" / "figures" / "finetune.png")
    args = parser.parse_args(argv)
    args.work = args.work or work_folder("bench_finetune", args.pretrained)
    if max(args.points) > args.steps or 0 not in args.points:
        parser.error("--points must include 0 and lie within --steps")
    heldout = read_sentences("heldout")[: args.sentences]
    texts = [spoken_text(s) for _, s in heldout]
    target = target_clean(args.target, heldout)
    learnt = learnt_voice(args.pretrained)
    original = target_clean(learnt, heldout)  # "to original": the voice the stand-in learnt
    recognizer = Recognizer(args.judge)
    start = score_point(args.pretrained / "model", texts, target, original, recognizer)
    results = {"target": args.target, "clips": args.clips, "steps": args.steps, "learning_rate": args.learning_rate,
               "batch_size": args.batch_size, "sentences": len(texts), "start": start,
               "references": references(args.target, heldout, texts, target, original, recognizer, learnt), "runs": {}}
    for name in args.recipes:
        for seed in args.seeds:
            # runs of a natural target are named after it; an espeak-ng target's keep the names of the older grids
            work = args.work / f"{args.target + '-' if is_natural(args.target) else ''}{name}-seed{seed}-{args.steps}"
            scores_file = work / "scores.json"
            if scores_file.is_file():
                scores = json.loads(scores_file.read_text(encoding="utf-8"))
            else:
                run_recipe(name, seed, args, data_for(name, args), work)
                scores = {"0": start}
                for point in sorted(p for p in args.points if p > 0):
                    folder = work / "checkpoints" / f"checkpoint-{point}" / "model"
                    scores[str(point)] = score_point(folder, texts, target, original, recognizer)
                scores_file.write_text(json.dumps(scores, indent=1), encoding="utf-8")
            results["runs"][f"{name}/{seed}"] = scores
            print(f"{name} seed {seed}: " + ", ".join(
                f"{p}: {s['to_target']:.2f} dB, CER {s['cer']:.1%}, OVRL {s['dnsmos_ovrl']:.2f}"
                for p, s in scores.items()), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print_table(results, args)
    draw(results, args)
    return 0


def mean_over_seeds(results: dict, name: str, point: int) -> dict[str, float]:
    rows = [scores[str(point)] for run, scores in results["runs"].items() if run.split("/")[0] == name]
    return {m: float(np.mean([row.get(m, np.nan) for row in rows])) for m in MEASURES}


def print_table(results: dict, args) -> None:
    print(f"\n{len(args.seeds)} seed(s), {args.clips} clips of {args.target}, batch {args.batch_size}, learning rate "
          f"{args.learning_rate:g}; {results['sentences']} held-out sentences (means over seeds)")
    print("| recipe | step | to target dB | to original dB | judge CER | DNSMOS OVRL | duration | loudness |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")

    def line(name: str, point, row: dict) -> None:
        print(f"| {name} | {point} | {row['to_target']:.2f} | {row['to_original']:.2f} | {row['cer']:.1%} | "
              f"{row.get('dnsmos_ovrl', np.nan):.2f} | {row['duration_ratio']:.2f} | {row['loudness_ratio']:.2f} |")

    for name in args.recipes:
        for point in sorted(args.points):
            line(name, point, mean_over_seeds(results, name, point))
    for name, row in results.get("references", {}).items():
        line(name, "", row)


def draw(results: dict, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = sorted(args.points)
    shown = ("to_target", "cer", "dnsmos_ovrl", "loudness_ratio")
    figure, axes = plt.subplots(1, len(shown), figsize=(17, 3.6))
    for name in args.recipes:
        rows = [mean_over_seeds(results, name, p) for p in points]
        for axis, measure_name in zip(axes, shown):
            axis.plot(points, [row[measure_name] for row in rows], marker="o", label=name)
    for name, row in results.get("references", {}).items():  # the references, as lines across
        if not name.startswith(("white", "harmonic")):
            for axis, measure_name in zip(axes, shown):
                axis.axhline(row[measure_name], color="grey", linestyle=":", linewidth=1)
    titles = ("MCD-DTW to the target voice (dB)", "judge CER", "DNSMOS OVRL (dotted: references)", "loudness ratio")
    for axis, title in zip(axes, titles):
        axis.set(title=title, xlabel="fine-tuning step")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    args.picture.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.picture, dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
