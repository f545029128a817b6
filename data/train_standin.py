#!/usr/bin/env python3
"""Build the stand-in voices (data/pretrained-espeak/, then data/pretrained/): small VITS models trained here.

The demo, the tests and the benchmarks run offline, where the model hub cannot be reached, so they
fine-tune the stand-in where a user fine-tunes MMS. It has MMS Kurmanji's structure (stochastic
duration predictor, MMS's vocabulary in its own order with "n" at id 0 as the blank, 16 kHz) with
narrower widths (`configs/standin.json`: 5.1 M parameters, a 0.85 M discriminator). By default it
learns, from random weights, the `standin` group of data/corpus/sentences.tsv spoken by espeak-ng's
voice `ku` (published to data/pretrained-espeak/), with the original VITS recipe (learning rate
2e-4, no discriminator warm-up, no gradient clipping).

With `--speaker NAME` it learns a natural speaker of data/corpus/speakers.json instead (Kokoro's
speech, kurdish_tts/samples/natural.py, clean as a studio reading is; published to data/pretrained/),
and with `--start_from DIR` it begins from a stand-in published before (DIR/model, DIR/discriminator,
DIR/build.json) rather than from random weights: the espeak-ng stand-in already reads Kurmanji, so a
natural one needs far fewer steps from it. The model card and build.json record both stages.

The build is resumable: run it again with a higher --steps. It trains in chunks, keeps resumable
checkpoints in --work, and after each chunk publishes the model (fp16 weights that load as fp32)
and its discriminator to --publish (data/pretrained/ with --speaker, data/pretrained-espeak/
without) with build.json (steps, hours, loss history). A later run continues from --work's
checkpoints, or, on a machine without them, from --publish.

    python data/train_standin.py --steps 6000          # about 3 s a step on 2 CPU cores
    python data/train_standin.py --steps 6000 --chunk 500 --work runs/standin
    python data/train_standin.py --speaker berfin --start_from data/pretrained-espeak --steps 6000 \
        --work runs/standin-berfin                      # data/pretrained, as its build.json records
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

from kurdish_tts.files import replace_folder, write_text_atomic
from kurdish_tts.samples.espeak import espeak_version, write_folder
from kurdish_tts.text import normalizer

CONFIG = ROOT / "configs" / "standin.json"
PUBLISHED = HERE / "pretrained"  # a natural speaker's build (--speaker): the stand-in the toolkit uses
ESPEAK_PUBLISHED = HERE / "pretrained-espeak"  # the build on espeak-ng's voice
VOICE = "ku"
RECIPE = ["--batch_size", "16", "--gradient_accumulation_steps", "1", "--learning_rate", "2e-4",
          "--discriminator_warmup_steps", "0", "--max_grad_norm", "inf", "--save_steps", "100",
          "--save_total_limit", "2", "--eval_steps", "1000", "--logging_steps", "20", "--mixed_precision", "no"]
# (first step, recipe): a build may change its recipe at a step; each phase is then a run of its own
# (a fresh optimiser) from the previous phase's last weights. The stand-in has one phase.
PHASES = [(0, RECIPE)]


def recipe_at(step: int) -> list[str]:
    return [recipe for first, recipe in PHASES if first <= step][-1]


def phase_end(step: int) -> int | None:
    """The first step of the phase after the one `step` lies in (None in the last)."""
    return min((first for first, _ in PHASES if first > step), default=None)


def published_build(folder: Path) -> dict:
    record = folder / "build.json"
    return json.loads(record.read_text(encoding="utf-8")) if record.is_file() else {}


class Source(NamedTuple):
    """What the build learns: espeak-ng's voice `ku`, or a natural speaker; and what it starts from."""

    voice: str
    natural: bool
    base: dict  # the build.json of the stand-in it starts from ({} from random weights)

    def write_data(self, folder: Path) -> dict:
        if not self.natural:
            return write_folder(folder, self.voice, ["standin"], ["heldout"])
        from kurdish_tts.samples import natural
        return natural.write_folder(folder, natural.speaker(self.voice), ["standin"], ["heldout"])

    def describe(self) -> str:
        if self.natural:
            from kurdish_tts.samples import natural
            s = natural.speaker(self.voice)
            return (f"the natural speaker `{self.voice}` of data/corpus/speakers.json (Kokoro-82M, styles {s.styles}, "
                    f"speed {s.speed}, pitch {s.pitch}, formant {s.formant}; clean, as a studio reading is)")
        return f"espeak-ng {espeak_version()}'s voice `{self.voice}`"


def publish(work: Path, folder: Path, source: Source, steps: int, seconds: float) -> None:
    """folder/{model,discriminator} from the run's output, fp16 on disk, build.json beside them."""
    import torch
    from transformers import VitsModel

    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model.", dir=folder))
    output = work / "model"
    model = VitsModel.from_pretrained(output, dtype=torch.float32)
    model.half().save_pretrained(staging)
    config = json.loads((staging / "config.json").read_text(encoding="utf-8"))
    config["dtype"] = "float32"  # the stored weights are fp16; loading gives fp32, for training and CPU synthesis
    (staging / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    for name in ("vocab.json", "tokenizer_config.json", "special_tokens_map.json", "loss_curve.png"):
        if (output / name).is_file():
            shutil.copy2(output / name, staging / name)
    (staging / "README.md").write_text(model_card(source, steps, seconds), encoding="utf-8")
    replace_folder(staging, folder / "model")
    discriminator = Path(tempfile.mkdtemp(prefix=".discriminator.", dir=folder))
    shutil.rmtree(discriminator)
    shutil.copytree(work / "model-discriminator", discriminator)
    replace_folder(discriminator, folder / "discriminator")
    history = json.loads((output / "loss_history.json").read_text(encoding="utf-8"))
    record = {"steps": steps, "cpu_hours": round(seconds / 3600, 2), "voice": source.voice,
              "source": "natural" if source.natural else "espeak-ng", "espeak_ng": espeak_version(),
              "config": "configs/standin.json",
              "recipe": [[first, recipe] for first, recipe in PHASES if first < steps],
              "sentences": "standin group of data/corpus/sentences.tsv",
              "command": " ".join(["python data/train_standin.py", *sys.argv[1:]]), "loss_history": history[-200:]}
    if source.base:
        record["started_from"] = {k: v for k, v in source.base.items() if k != "loss_history"}
    write_text_atomic(folder / "build.json", json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6000, help="optimiser steps in all: a higher number resumes a build")
    parser.add_argument("--chunk", type=int, default=500, help="steps between publications to --publish")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "standin", help="data, checkpoints, run output")
    parser.add_argument("--speaker", help="learn this natural speaker of data/corpus/speakers.json instead of "
                                          f"espeak-ng's voice {VOICE}")
    parser.add_argument("--start_from", type=Path, help="a published stand-in folder (model/, discriminator/, "
                                                        "build.json) to begin from instead of random weights")
    parser.add_argument("--publish", type=Path, help="where the voice is published after each chunk (default "
                                                     "data/pretrained for --speaker, data/pretrained-espeak for espeak-ng)")
    args = parser.parse_args(argv)
    folder = args.publish or (PUBLISHED if args.speaker else ESPEAK_PUBLISHED)
    base = {}
    if args.start_from:
        base = published_build(args.start_from)
        if not base or not (args.start_from / "model").is_dir() or not (args.start_from / "discriminator").is_dir():
            parser.error(f"--start_from {args.start_from}: no published stand-in there (model/, discriminator/, "
                         "build.json): pass a folder this script published")
    source = Source(args.speaker or VOICE, bool(args.speaker), base)
    if args.speaker:
        from kurdish_tts.samples import natural
        try:
            natural.speaker(args.speaker)
        except natural.SpeakerError as error:
            parser.error(f"--speaker: {error}")
    published = published_build(folder)
    if published and published.get("voice", VOICE) != source.voice:
        parser.error(f"{folder} holds a stand-in of voice {published.get('voice', VOICE)}, not {source.voice}: "
                     "pass --publish another folder")
    import train_vits

    data = args.work / "data"
    record = source.write_data(data)
    print(f"data: {record['counts']['metadata.csv']} clips, {record['hours'] * 60:.1f} min of {record['source']}")
    # The current run: the step its weights started from (offset), its checkpoint folder, what it starts from;
    # and the CPU time of the whole build so far.
    state = args.work / "build.json"
    if state.is_file():
        build = json.loads(state.read_text(encoding="utf-8"))
    else:
        build = {"offset": published.get("steps", 0), "seconds": published.get("cpu_hours", 0.0) * 3600}
        state.parent.mkdir(parents=True, exist_ok=True)
    build.setdefault("checkpoints", "checkpoints")
    if build["offset"]:  # no checkpoints here: continue from the published voice
        begin = folder
    else:
        begin = args.start_from
    build.setdefault("start", ["--init_config", str(CONFIG)] if begin is None else [
        "--model_name_or_path", str(begin / "model"), "--discriminator", str(begin / "discriminator")])
    write_json(state, build)
    while True:
        checkpoints = args.work / build["checkpoints"]
        done = build["offset"] + max((int(p.name.split("-")[1]) for p in checkpoints.glob("checkpoint-*")), default=0)
        if done and published_build(folder).get("steps") != done:  # a chunk just trained, or a new --publish folder
            publish(args.work, folder, source, done, build["seconds"])
            print(f"published {folder}: {done} steps, {build['seconds'] / 3600:.2f} CPU hours")
        if done >= args.steps:
            break
        boundary = phase_end(build["offset"])
        if boundary is not None and done >= boundary:  # the next phase: a new run from this one's last weights
            start = args.work / f"start-{done}"
            for output, name in ((args.work / "model", "model"), (args.work / "model-discriminator", "discriminator")):
                if not (start / name).is_dir():
                    shutil.copytree(output, start / f".{name}")
                    (start / f".{name}").rename(start / name)
            build.update(offset=done, checkpoints=f"checkpoints-{done}", start=[
                "--model_name_or_path", str(start / "model"), "--discriminator", str(start / "discriminator")])
            write_json(state, build)
            continue
        end = min(args.steps, done + args.chunk, boundary or args.steps)
        started = time.time()
        argv = ["--data_dir", str(data), "--output_dir", str(args.work / "model"), "--checkpoint_dir", str(checkpoints),
                "--max_steps", str(end - build["offset"]), *build["start"], *recipe_at(build["offset"])]
        if any(checkpoints.glob("checkpoint-*")):
            argv.append("--resume")
        code = train_vits.main(argv)
        build["seconds"] += time.time() - started
        write_json(state, build)
        if code != 0:
            return code
    return 0


def write_json(path: Path, values: dict) -> None:
    write_text_atomic(path, json.dumps(values, indent=1))


def model_card(source: Source, steps: int, seconds: float) -> str:
    if source.base:
        first = Source(source.base.get("voice", VOICE), source.base.get("source") == "natural", {})
        how = (f"trained by `python data/train_standin.py` first on {first.describe()} for {source.base['steps']} "
               f"steps from random weights, then on {source.describe()} for {steps} steps "
               f"({source.base.get('cpu_hours', 0) + seconds / 3600:.1f} CPU hours in all)")
    else:
        how = (f"trained from random weights by `python data/train_standin.py` for {steps} steps "
               f"({seconds / 3600:.1f} CPU hours) on {source.describe()}")
    tag = "natural-speaker" if source.natural else "espeak-ng"
    return MODEL_CARD.format(how=how, tag=tag, normalizer=normalizer.VERSION,
                             what="a natural speaker" if source.natural else "espeak-ng speech",
                             ceiling="the speaker" if source.natural else "the formant synthesiser")


MODEL_CARD = """\
---
language: kmr
text_normalizer: {normalizer}
pipeline_tag: text-to-speech
tags: [vits, kurmanji, kurdish, {tag}]
---

# The stand-in voice: a small Kurmanji VITS trained here on {what}

This is not Meta's MMS model and holds none of its weights. It is a 5.1 M-parameter VITS
with MMS Kurmanji's structure and vocabulary (`facebook/mms-tts-kmr-script_latin`'s
`vocab.json`, "n" at id 0 as the blank; stochastic duration predictor; 16 kHz), {how}, reading
the `standin` sentences of `data/corpus/sentences.tsv`. The toolkit fine-tunes it in its demo,
tests and benchmarks where a user fine-tunes MMS, so that all of them run offline, where the model
hub cannot be reached.

It can at best speak like {ceiling} it learns from; how well it speaks after these steps (the
judge's CER, DNSMOS, the distance to its speaker, beside references) is in the toolkit's
BENCHMARKS.md (`python bench/bench_voice.py`). Its weights are stored in fp16 and load as fp32.
The discriminator it trained against is in `../discriminator/`
(`train_vits.py --discriminator data/pretrained/discriminator`).

```python
from transformers import pipeline
speak = pipeline("text-to-speech", model="data/pretrained/model")
audio = speak("ez ji te hez dikim")
```

Licence: made here from sentences written for the project spoken by espeak-ng (GPL-3.0 software,
whose output is not covered by its licence) and by Kokoro-82M (Apache-2.0 weights); no other
model's licence applies.
"""

if __name__ == "__main__":
    sys.exit(main())
