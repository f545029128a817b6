"""What a training leaves behind: a plain `transformers` model folder (config, safetensors weights,
tokenizer, model card, loss curve) and the discriminator beside it. With --ema_decay the weights
saved are the moving average of the generator's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from kurdish_tts.files import staged_folder
from kurdish_tts.training.card import model_card
from kurdish_tts.training.evaluation import plot_loss_curve
from kurdish_tts.training.folders import discriminator_folder
from kurdish_tts.training.state import averaged
from kurdish_tts.vits.discriminator import save_discriminator
from kurdish_tts.vits.voices import voice_names
from kurdish_tts.vits.weights import plain_state_dict

if TYPE_CHECKING:
    from kurdish_tts.training.state import Run


def save_model_folder(run: Run, folder: Path) -> None:
    """A plain `transformers` model folder: config, safetensors weights, tokenizer, model card."""
    folder.mkdir(parents=True, exist_ok=True)
    with averaged(run):  # with --ema_decay, the model is the moving average of its weights
        run.model.save_pretrained(folder, state_dict=plain_state_dict(run.model), safe_serialization=True)
    run.tokenizer.save_pretrained(folder)
    card = model_card(run.args, run.progress.step, len(run.dataset), voice_names(run.model.config), run.prior_kept,
                      run.ema_decay, run.adversarial_start, run.generator_start)
    (folder / "README.md").write_text(card, encoding="utf-8")


def save_final(run: Run) -> Path:
    """The final model folder (atomically replaced) and the discriminator beside it."""
    args = run.args
    output = args.output_dir
    with staged_folder(output) as tmp:
        save_model_folder(run, tmp)
        plot_loss_curve(run.progress.history, tmp / "loss_curve.png")
        (tmp / "loss_history.json").write_text(json.dumps(run.progress.history), encoding="utf-8")
    save_discriminator(run.discriminator, discriminator_folder(output))
    return output
