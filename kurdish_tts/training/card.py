"""The model card of a trained voice, and the licence it passes on: what the model came from decides it."""

from __future__ import annotations

from pathlib import Path

from kurdish_tts.corpus.metadata import read_dataset_record
from kurdish_tts.hub import card_value
from kurdish_tts.text.normalizer import VERSION, VERSION_KEY
from kurdish_tts.text.vocabulary import MMS_KURMANJI
from kurdish_tts.training.arguments import describe_rates
from kurdish_tts.training.prior import PRIOR_PARTS

MMS_LICENSE = ("cc-by-nc-4.0", ("This model is fine-tuned from Meta's MMS text-to-speech model and inherits its "
                                "licence, CC BY-NC 4.0 (non-commercial use only)."))


def model_licence(args) -> tuple[str | None, str]:
    """(licence id for the card's front matter, or None; a sentence for its Licence section): what the
    model came from decides it. MMS passes on CC BY-NC 4.0; a local model folder passes on the licence
    its own card names; weights from a config come from no other model."""
    if args.init_config:
        return None, (f"Trained from random weights (`{args.init_config}`): no other model's licence applies; "
                      "the training data's licence does.")
    source = Path(str(args.model_name_or_path))
    if not source.is_dir():
        return MMS_LICENSE if str(args.model_name_or_path) == MMS_KURMANJI else (
            None, f"Fine-tuned from `{args.model_name_or_path}`: its licence applies.")
    card = (source / "README.md").read_text(encoding="utf-8") if (source / "README.md").is_file() else ""
    licence = card_value(card, "license")
    named = f" ({licence})" if licence else " (see the README.md of that folder)"
    return licence, f"Fine-tuned from the model in `{source}` and under its licence{named}."


def voices_section(voices: list[str], data: dict) -> str:
    """The card's list of voices: each voice's speaker id, and its clips, minutes and gender where
    dataset.json records them; "" for a one-voice model."""
    if not voices:
        return ""
    known = data.get("voices", {})
    rows = ["| id | voice | clips | minutes | gender |", "|---|---|---|---|---|"]
    for index, name in enumerate(voices):
        row = known.get(name, {})
        rows.append(f"| {index} | {name} | {row.get('clips', '')} | {row.get('minutes', '')} | {row.get('gender', '')} |")
    return ("\n## Voices\n\nPick one by id (`pipeline(...)(text, forward_params={\"speaker_id\": 1})`) or by name "
            "(`synthesize.py --voice NAME`, the `voice` field of `serve.py`):\n\n" + "\n".join(rows) + "\n")


def model_card(args, steps: int, clips: int, voices: list[str] = (), prior_kept: bool = False,
               ema_decay: float = 0.0, adversarial_start: int = 0, generator_start: int = 0) -> str:
    """The README.md of a model trained with `args` for `steps` optimiser steps on `clips` clips;
    `voices`: the model's voices by id, for a multi-voice model; `prior_kept`: --keep_prior froze the prior;
    `ema_decay`: the weights saved are their moving average with this decay (0: the weights themselves);
    `adversarial_start`: the step from which the discriminator's losses reached the generator;
    `generator_start`: the step from which the generator trained at all (--warmup_generator frozen)."""
    frozen = sorted(set(args.freeze) | (set(PRIOR_PARTS) if prior_kept else set()))
    averaged = f"\n- the weights: their moving average over training (decay {ema_decay:g})" if ema_decay else ""
    base = f"random weights of `{args.init_config}`" if args.init_config else f"`{args.model_name_or_path}`"
    data = read_dataset_record(args.data_dir)
    hours = f"{data.get('hours_after', 0):.2f} h" if data else "unknown"
    licence, licence_note = model_licence(args)
    every = "alignment search, duration, KL, mel, adversarial and feature-matching losses"
    if steps <= generator_start:  # the whole run inside a warm-up the generator waits through
        losses = f"the generator not trained yet: it waits for the discriminator's warm-up, to step {generator_start}"
    elif generator_start:
        losses = f"{every} from step {generator_start}, the generator waiting for the discriminator until then"
    elif steps <= adversarial_start:  # the whole run inside the discriminator's warm-up
        losses = (f"alignment search, duration, KL and mel losses; the adversarial and feature-matching losses "
                  f"join from step {adversarial_start}")
    else:
        losses = every + (f", the last two from step {adversarial_start}" if adversarial_start else "")
    front = f"license: {licence}\n" if licence else ""
    return f"""---
{front}language: kmr
{VERSION_KEY}: {VERSION}
pipeline_tag: text-to-speech
tags: [vits, mms, kurmanji, kurdish]
---

# Kurmanji Kurdish VITS voice

A VITS text-to-speech model for Kurmanji Kurdish (Latin script), trained from {base}
for {steps} optimiser steps on {clips} clips ({hours}) with VITS training
({losses}).

- learning rates: {describe_rates(args, prior_kept)}
- batch {args.batch_size} x {args.gradient_accumulation_steps} accumulation,
  mixed precision `{args.mixed_precision}`, frozen: {", ".join(frozen) or "nothing"}{averaged}
- loss weights: mel {args.weight_mel}, KL {args.weight_kl}, duration {args.weight_duration},
  feature matching {args.weight_fm}, adversarial {args.weight_gen}

```python
from transformers import pipeline
speak = pipeline("text-to-speech", model="path/to/this/folder")
```

Normalise text first (numbers, dates, currencies, abbreviations... read out in words): the toolkit's
text normaliser, version {VERSION}, made the training text; `synthesize.py` and `serve.py` speak with it
(`synthesize.py --normalize_only` shows what a text becomes).
{voices_section(list(voices), data)}
## Licence

{licence_note}
"""

