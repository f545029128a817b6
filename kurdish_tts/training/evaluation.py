"""Evaluation during training: losses on the held-out clips, a few of them spoken and scored
(MCD-DTW, duration ratio, DNSMOS OVRL), fixed sentences spoken to samples/step-N/, and the pictures
TensorBoard shows."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from kurdish_tts.corpus.dataset import collate
from kurdish_tts.scoring import measures
from kurdish_tts.synthesis.voice import Settings, Voice
from kurdish_tts.text.normalizer import normalize_text
from kurdish_tts.training.folders import logging_dir
from kurdish_tts.vits.objective import compute_losses

if TYPE_CHECKING:
    from kurdish_tts.training.state import Run

# Fixed sentences spoken at every evaluation, so that samples from different steps compare.
EVAL_SENTENCES = [
    "Rojbaş, ez bi kurdî diaxivim.",
    "Ez 25 salî me û li Amedê dijîm.",
    "Hewa îro pir xweş e, em ê herin baxçe.",
]
# Held-out clips spoken and scored at each evaluation. Their DNSMOS costs about 0.2 s of a core each
# (the MCD's WORLD analysis about 0.3 s), under 2 s an evaluation, and 1.4 s once to load.
EVAL_SCORED_CLIPS = 8


@torch.no_grad()
def evaluate(run: Run) -> dict[str, float]:
    """Eval losses on the held-out clips, the fixed sentences spoken to samples/step-N/, pictures.

    Runs inside forked random generators (the CPU's, every GPU's, and NumPy's, which the text
    encoder's layer drop draws from on every forward pass) so that evaluating does not change the
    training that follows, nor, on several processes, set the main one's layer drops apart.
    """
    step, model = run.progress.step, run.model
    model.eval()
    run.discriminator.eval()
    totals: dict[str, float] = {}
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())), numpy_random_kept():
        torch.manual_seed(run.args.seed)
        if run.eval_dataset is not None:
            batches = [list(range(i, min(i + run.args.batch_size, len(run.eval_dataset))))
                       for i in range(0, len(run.eval_dataset), run.args.batch_size)]
            first = None
            for indices in batches:
                batch = collate([run.eval_dataset[i] for i in indices]).to(run.accelerator.device)
                with run.accelerator.autocast():
                    _, _, metrics, out = compute_losses(model, run.discriminator, batch, run.features, run.weights,
                                                        run.args.segment_frames)
                first = first or out
                for name, value in metrics.items():
                    totals[name] = totals.get(name, 0.0) + value * len(indices) / len(run.eval_dataset)
            voice, scores = Voice.from_model(model, run.tokenizer), []
            each = max(2, EVAL_SCORED_CLIPS // len(run.spoken_voices))
            for name, speaker in run.spoken_voices.items():  # each voice on its own held-out clips
                clips = [clip for clip in run.eval_dataset.clips if clip.voice == name][:each]
                if not clips:
                    continue
                voiced = measures.score_model(voice, "model", run.args.data_dir, clips, run.args.seed,
                                              settings=Settings(speaker_id=speaker), with_dnsmos=True)
                scores += voiced
                if name:
                    totals[f"mcd_dtw/{name}"] = float(np.mean([s.mcd_dtw for s in voiced]))
            totals["mcd_dtw"] = float(np.mean([s.mcd_dtw for s in scores]))
            totals["duration_ratio"] = float(np.mean([s.duration_ratio for s in scores]))
            if ovrl := [s.dnsmos_ovrl for s in scores if s.dnsmos_ovrl is not None]:  # none when every clip is too short
                totals["dnsmos_ovrl"] = float(np.mean(ovrl))
            if run.writer is not None and first is not None:
                run.writer.add_figure("eval/alignment", plot_matrix(first.path[0].cpu().numpy(), "frames", "tokens"), step)
                run.writer.add_figure("eval/mel", plot_mels(first.mel_real[0], first.mel_fake[0]), step)
        samples = logging_dir(run.args.output_dir, run.args.logging_dir) / "samples" / f"step-{step}"
        for name, speaker in run.spoken_voices.items():  # samples/step-N/<voice>/ for each of several voices
            folder = samples / name if name else samples
            folder.mkdir(parents=True, exist_ok=True)
            for index, sentence in enumerate(EVAL_SENTENCES):
                text = normalize_text(sentence, run.vocabulary.characters).text
                ids = run.tokenizer(text, return_tensors="pt").to(run.accelerator.device)
                waveform = model(**ids, speaker_id=speaker).waveform[0].float().cpu().numpy()
                sf.write(folder / f"{index}.wav", waveform, model.config.sampling_rate, subtype="PCM_16")
                if run.writer is not None:
                    tag = f"samples/{name}/{index}" if name else f"samples/{index}"
                    run.writer.add_audio(tag, waveform, step, sample_rate=model.config.sampling_rate)
    if run.writer is not None:
        for name, value in totals.items():
            run.writer.add_scalar(f"eval/{name}", value, step)
    if totals:
        ovrl = f"DNSMOS OVRL {totals['dnsmos_ovrl']:.2f}, " if "dnsmos_ovrl" in totals else ""
        tqdm.write(f"step {step} eval: MCD-DTW {totals['mcd_dtw']:.2f} dB, "
                   f"duration ratio {totals['duration_ratio']:.2f}, {ovrl}"
                   + ", ".join(f"{k.removeprefix('loss_')} {v:.3g}" for k, v in totals.items() if k.startswith("loss_"))
                   + f"; samples in {samples}")
    model.train()
    run.discriminator.train()
    return totals


@contextmanager
def numpy_random_kept():
    """NumPy's global random state as it was before the block, once the block ends."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_matrix(matrix: np.ndarray, xlabel: str, ylabel: str):
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 3))
    axis.imshow(matrix, aspect="auto", origin="lower", interpolation="none")
    axis.set(xlabel=xlabel, ylabel=ylabel)
    return figure


def plot_mels(real: torch.Tensor, fake: torch.Tensor):
    plt = _pyplot()
    figure, axes = plt.subplots(2, 1, figsize=(8, 4), sharex=True)
    for axis, mel, title in zip(axes, (real, fake), ("recording", "generated")):
        axis.imshow(mel.float().cpu().numpy(), aspect="auto", origin="lower")
        axis.set(title=title, ylabel="mel bin")
    return figure


def plot_loss_curve(history: list, path: Path) -> None:
    if not history:
        return
    plt = _pyplot()
    steps = [step for step, _ in history]
    names = ["loss_mel", "loss_kl", "loss_dur", "loss_fm", "loss_gen", "loss_disc"]
    figure, axes = plt.subplots(2, 3, figsize=(12, 6), sharex=True)
    for axis, name in zip(axes.flat, names):
        axis.plot(steps, [metrics.get(name, float("nan")) for _, metrics in history])
        axis.set(title=name, xlabel="step")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
