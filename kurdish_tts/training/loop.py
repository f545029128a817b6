"""The training loop: `train(args, ...)` runs a whole training.

Each optimiser step gathers `--gradient_accumulation_steps` micro-batches (`train_step`: the
losses and both backward passes), then `apply_updates` averages, clips and applies both
networks' gradients; `after_step` logs, evaluates and saves checkpoints. A fresh
discriminator warms up before it drives the generator; Ctrl-C or SIGTERM saves a checkpoint and stops.
"""

from __future__ import annotations

import argparse
import math
import signal
import time
import uuid
import warnings
from pathlib import Path

import torch
from tqdm import tqdm

from kurdish_tts.corpus.dataset import collate
from kurdish_tts.corpus.metadata import DATASET_RECORD, EVAL_FILE, TRAIN_FILE, Clip, read_dataset_record, read_metadata
from kurdish_tts.text.normalizer import VERSION_KEY, version_notice
from kurdish_tts.training.arguments import describe_rates
from kurdish_tts.training.checkpoints import (
    list_checkpoints,
    remove_unfinished,
    resolve_resume,
    resume,
    save_checkpoint,
)
from kurdish_tts.training.errors import TrainingError, TrainingInterrupted
from kurdish_tts.training.evaluation import evaluate
from kurdish_tts.training.folders import discriminator_folder, logging_dir
from kurdish_tts.training.output import save_final
from kurdish_tts.training.run import build_run
from kurdish_tts.training.state import Run, averaged, update_ema
from kurdish_tts.vits.objective import compute_losses

# Short names on the progress bar: the discriminator's mean score on real and on generated audio, gradient norms.
# The weighted sums each network minimises are G and D; the parts keep their loss names without "loss_".
BAR_NAMES = {"score_real": "real", "score_fake": "fake", "grad_norm_g": "|grad_g|", "grad_norm_d": "|grad_d|",
             "generator_total": "G", "discriminator_total": "D"}


def train(args: argparse.Namespace, train_clips: list[Clip] | None = None, eval_clips: list[Clip] | None = None,
          weights: list[float] | None = None, record: dict | None = None) -> Path:
    """Train and return the saved model folder. Raises TrainingError (user-fixable) or TrainingInterrupted.
    `record` (JSON values) goes into every checkpoint: `checkpoints.read_record` gives it back before a resume."""
    if train_clips is None:
        train_clips = read_metadata(args.data_dir / TRAIN_FILE)
    if eval_clips is None and (args.data_dir / EVAL_FILE).is_file():
        eval_clips = read_metadata(args.data_dir / EVAL_FILE)
    resume_from = resolve_resume(args)
    run = build_run(args, train_clips, eval_clips or [], weights)
    run.record = record or {}
    accelerator = run.accelerator
    notices = resume(run, resume_from) if resume_from is not None else []
    run.progress.run_id = run.progress.run_id or uuid.uuid4().hex  # kept by a resume
    total_steps = args.max_steps or epochs_to_steps(run, args.num_epochs)
    from torch.utils.tensorboard import SummaryWriter

    if accelerator.is_main_process:
        run.writer = SummaryWriter(str(logging_dir(args.output_dir, args.logging_dir)))
        print_header(run, total_steps, resume_from)
        notices = notices + [n for n in [data_normalizer_notice(args.data_dir)] if n]
        if unfinished := remove_unfinished(args.checkpoint_dir):
            notices.append(f"removed {unfinished} half-written checkpoint(s) a stopped save left in {args.checkpoint_dir}")
        for notice in notices:
            print(f"notice: {notice}")
    bar = tqdm(total=total_steps, initial=run.progress.step, unit="step", dynamic_ncols=True,
               disable=not accelerator.is_main_process)
    started, start_step = time.perf_counter(), run.progress.step
    with StopSignal() as stop:
        while run.progress.step < total_steps:
            loader = torch.utils.data.DataLoader(run.dataset, batch_sampler=epoch_batches(run), collate_fn=collate,
                                                 num_workers=args.dataloader_workers,
                                                 generator=torch.Generator())  # leaves the global RNG alone
            run.model.train()
            run.discriminator.train()
            for batch in loader:
                metrics = train_step(run, batch.to(accelerator.device))
                run.progress.batch_in_epoch += 1
                if not accelerator.sync_gradients:  # inside an accumulated step
                    continue
                if metrics is None:  # the step was spoilt by a non-finite loss: nothing was updated
                    handle_nonfinite(run)
                    continue
                run.progress.nonfinite_in_a_row = 0
                run.progress.step += 1
                bar.update(1)
                after_step(run, metrics, bar)
                if stopping(run, stop):
                    path = save_checkpoint(run)
                    bar.close()
                    raise TrainingInterrupted(f"stopped at step {run.progress.step}; checkpoint saved to {path}; "
                                              f"continue with --resume")
                if run.progress.step >= total_steps:
                    break
            else:
                run.progress.epoch += 1
                run.progress.batch_in_epoch = 0
                step_schedulers(run)
    bar.close()
    if run.progress.step % args.save_steps:
        save_checkpoint(run)
    output = None
    if accelerator.is_main_process:
        output = save_final(run)
        elapsed = time.perf_counter() - started
        skipped = run.progress.nonfinite_total
        print(f"trained {run.progress.step - start_step} steps in {elapsed / 60:.1f} min"
              + (f" ({skipped} optimiser steps skipped for non-finite losses or gradients)" if skipped else "")
              + f"; model saved to {output}; "
              f"discriminator to {discriminator_folder(output)}")
        run.writer.close()
    accelerator.wait_for_everyone()
    return args.output_dir


def train_step(run: Run, batch) -> dict[str, float] | None:
    """One micro-batch: losses, backward passes, and (when accumulation is complete) the updates.

    During a fresh discriminator's warm-up the adversarial and feature-matching losses stay out of
    the generator's loss, and the generator either waits (--warmup_generator frozen) or trains on
    the mel, KL and duration losses alone (reconstruction).
    A non-finite loss spoils its whole optimiser step: the gradients gathered so far are dropped,
    the step's remaining micro-batches are passed over, and nothing is updated. Returns the
    metrics of the micro-batch, or None when its step is spoilt.
    """
    args, accelerator = run.args, run.accelerator
    warming_up = run.progress.step < run.adversarial_start  # the discriminator does not drive the generator yet
    with accelerator.accumulate(run.model, run.discriminator):  # counts the micro-batch, even one passed over
        if run.spoilt_step:
            if accelerator.sync_gradients:
                run.spoilt_step = False
            return None
        with accelerator.autocast():
            loss_g, loss_d, metrics, _ = compute_losses(run.model, run.discriminator, batch, run.features, run.weights,
                                                        args.segment_frames, adversarial=not warming_up)
        finite = math.isfinite(metrics["generator_total"]) and math.isfinite(metrics["discriminator_total"])
        if accelerator.num_processes > 1:  # every process skips, or none: the gradient averaging must meet
            finite = bool(accelerator.reduce(torch.tensor(float(not finite), device=accelerator.device)) == 0)
        if not finite:
            drop_gradients(run)
            run.spoilt_step = not accelerator.sync_gradients  # the rest of this step is passed over
            return None
        update_generator = run.progress.step >= run.generator_start and bool(run.generator_parameters)
        accelerator.backward(loss_d, inputs=list(run.discriminator.parameters()), retain_graph=update_generator)
        if update_generator:
            accelerator.backward(loss_g, inputs=run.generator_parameters)
        if accelerator.sync_gradients:
            norms = apply_updates(run, update_generator)
            if norms is None:  # finite losses, non-finite gradients: the step is spoilt, nothing was updated
                drop_gradients(run)
                return None
            metrics.update(norms)
        # accelerate's optimisers clear gradients only when they sync: between the micro-batches of
        # one step these calls do nothing, and the gradients add up
        run.optimizer_d.zero_grad(set_to_none=True)
        run.optimizer_g.zero_grad(set_to_none=True)
    metrics["warmup"] = float(warming_up)
    return metrics


def drop_gradients(run: Run) -> None:
    """Clear the gradients a spoilt step gathered, through the wrapped optimisers: accelerate's own
    zero_grad does nothing before a step's last micro-batch."""
    run.optimizer_g.optimizer.zero_grad(set_to_none=True)
    run.optimizer_d.optimizer.zero_grad(set_to_none=True)


def apply_updates(run: Run, update_generator: bool) -> dict[str, float] | None:
    """Average the gradients across processes, clip them and step, once per accumulated batch;
    -> each network's gradient norm before clipping (grad_norm_d, and grad_norm_g when it trains), or
    None when a norm is not finite without a gradient scaler: then nothing is updated (clipping would
    write NaN into every weight; under fp16 the scaler skips such a step itself).

    Under fp16 the one gradient scaler unscales each optimiser once, steps both, and only then
    updates its scale: stepping through accelerate's optimisers would update the scale between
    the two steps and unscale twice.
    """
    scaler = run.accelerator.scaler
    updates = [(run.optimizer_d.optimizer, list(run.discriminator.parameters()))]
    if update_generator:
        updates.append((run.optimizer_g.optimizer, run.generator_parameters))
    norms = {}
    for (optimizer, parameters), name in zip(updates, ("grad_norm_d", "grad_norm_g")):
        average_gradients(run.accelerator, parameters)
        if scaler is not None:
            scaler.unscale_(optimizer)
        norms[name] = float(torch.nn.utils.clip_grad_norm_(parameters, run.args.max_grad_norm))
    if scaler is None and not all(map(math.isfinite, norms.values())):  # the same on every process: averaged first
        return None
    ramps = warmup_factors(run)
    for (optimizer, _), ramp in zip(updates, ramps):
        scheduled = [group["lr"] for group in optimizer.param_groups]
        for group in optimizer.param_groups:  # the schedule's rate, scaled for this update only
            group["lr"] *= ramp
        if scaler is not None:
            scaler.step(optimizer)  # skipped when the unscaled gradients are not finite
        else:
            optimizer.step()
        for group, rate in zip(optimizer.param_groups, scheduled):
            group["lr"] = rate
    if scaler is not None:
        scaler.update()
    if update_generator and run.ema is not None:
        update_ema(run)
    return norms


def warmup_factors(run: Run) -> tuple[float, float]:
    """(discriminator, generator) learning-rate factors of this update under --lr_warmup_steps: each
    network's rate rises linearly over its first N updates (the generator's first is step 0, or under
    --warmup_generator frozen the first after the discriminator's warm-up). Adam's first steps move
    every weight by the full rate whatever the gradient; a ramp keeps them from jolting a trained
    voice. Computed from the step, so a resumed run goes on with the same ramp."""
    steps = run.args.lr_warmup_steps
    if steps <= 0:
        return 1.0, 1.0
    step = run.progress.step  # updates done before this one
    return min(1.0, (step + 1) / steps), min(1.0, max(1, step - run.generator_start + 1) / steps)


def average_gradients(accelerator, parameters: list[torch.Tensor]) -> None:
    """Replace each gradient by its mean over the processes (one collective for all of them)."""
    gradients = [p.grad for p in parameters if p.grad is not None]
    if accelerator.num_processes == 1 or not gradients:
        return
    mean = accelerator.reduce(torch.cat([g.reshape(-1) for g in gradients]), reduction="mean")
    for gradient, part in zip(gradients, torch.split(mean, [g.numel() for g in gradients])):
        gradient.copy_(part.view_as(gradient))


def after_step(run: Run, metrics: dict, bar) -> None:
    args, step = run.args, run.progress.step
    if step % args.logging_steps == 0 or step == 1:
        shown = {BAR_NAMES.get(k, k.removeprefix("loss_")): f"{v:.3g}" for k, v in metrics.items() if k != "warmup"}
        bar.set_postfix(shown, refresh=False)
        run.progress.history.append([step, {k: v for k, v in metrics.items()}])
        if run.writer is not None:
            for name, value in metrics.items():
                run.writer.add_scalar(f"train/{name}", value, step)
            for group in run.optimizer_g.param_groups:
                run.writer.add_scalar(f"train/learning_rate_{group['part']}", group["lr"], step)
            run.writer.add_scalar("train/learning_rate_discriminator", run.optimizer_d.param_groups[0]["lr"], step)
            run.writer.add_scalar("train/nonfinite_skipped", run.progress.nonfinite_total, step)
    if step % args.eval_steps == 0 and run.accelerator.is_main_process:
        with averaged(run):  # what would be saved: with --ema_decay, the moving average
            evaluate(run)
    if step % args.save_steps == 0:
        path = save_checkpoint(run)
        bar.write(f"step {step}: checkpoint {path}")


def handle_nonfinite(run: Run) -> None:
    run.progress.nonfinite_in_a_row += 1
    run.progress.nonfinite_total += 1
    if run.progress.nonfinite_in_a_row >= run.args.max_nonfinite_steps:
        found = list_checkpoints(run.args.checkpoint_dir, run.progress.run_id)
        kept = f"the last good checkpoint is {found[-1]}" if found else "no checkpoint of this run was saved yet"
        raise TrainingError(f"{run.progress.nonfinite_in_a_row} optimiser steps in a row with non-finite losses or "
                            f"gradients at step {run.progress.step}: lower --learning_rate or check the data; {kept}")


def epoch_batches(run: Run) -> list[list[int]]:
    """This process's share of the epoch's batches, from the current position on."""
    run.sampler.set_epoch(run.progress.epoch)
    batches = run.sampler.batches()
    share = run.accelerator.num_processes
    if len(batches) < share:  # every process would get none, epoch after epoch
        raise TrainingError(f"{len(batches)} batch(es) an epoch for {share} processes: each needs one; add clips, "
                            f"lower --batch_size or run on fewer processes")
    batches = batches[: len(batches) // share * share][run.accelerator.process_index::share] if share > 1 else batches
    return batches[run.progress.batch_in_epoch:]


def stopping(run: Run, stop: StopSignal) -> bool:
    """Whether a stop signal came, for every process alike: they save the checkpoint together."""
    received = stop.received is not None
    if run.accelerator.num_processes > 1:
        flag = torch.tensor(float(received), device=run.accelerator.device)
        received = bool(run.accelerator.reduce(flag, reduction="sum") > 0)
    return received


def step_schedulers(run: Run) -> None:
    """The learning rates decay once an epoch; the generator's only once it trains.

    PyTorch warns when a scheduler steps before its optimizer has stepped in this process. That
    happens rightly after a resume at the end of an epoch (the epoch's decay comes first), and
    after a first fp16 step skipped for overflow: the order over the whole run is right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`")
        if run.discriminator_loaded or run.progress.step > run.generator_start:
            run.scheduler_g.step()
        run.scheduler_d.step()


def epochs_to_steps(run: Run, epochs: int) -> int:
    """Optimiser steps that take `epochs` passes over the data (at least that many). Gradient
    accumulation runs on across the end of an epoch, so the micro-batches of all epochs count."""
    run.sampler.set_epoch(0)
    batches = len(run.sampler.batches()) // max(1, run.accelerator.num_processes)
    return max(1, math.ceil(epochs * batches / run.args.gradient_accumulation_steps))


def data_normalizer_notice(data_dir: Path) -> str | None:
    """A notice when the data's dataset.json says its text was normalised by another normaliser version."""
    record = read_dataset_record(data_dir)
    return version_notice(record.get(VERSION_KEY), str(data_dir / DATASET_RECORD)) if record else None


def print_header(run: Run, total_steps: int, resume_from: Path | None) -> None:
    args = run.args
    trainable = sum(p.numel() for p in run.generator_parameters)
    disc = sum(p.numel() for p in run.discriminator.parameters())
    minutes = sum(run.dataset.samples) / run.dataset.sample_rate / 60
    print(f"data: {len(run.dataset)} clips ({minutes:.1f} min) from {args.data_dir}, "
          f"{len(run.eval_dataset) if run.eval_dataset else 0} for evaluation")
    waiting = "the generator waits" if args.warmup_generator == "frozen" else "the generator trains without it"
    warmup = f"{run.adversarial_start} warm-up steps ({waiting})"
    state = (f"{run.discriminator_origin}{', ' + warmup if run.adversarial_start else ''}" if run.discriminator_loaded
             else f"fresh, {warmup}, {run.discriminator_origin}")
    print(f"generator: {trainable / 1e6:.2f} M trainable parameters; discriminator {disc / 1e6:.2f} M ({state})")
    rates = f"learning rates: {describe_rates(args, run.prior_kept)}"
    ramp = f", rising over {args.lr_warmup_steps} updates" if args.lr_warmup_steps else ""
    print(f"{rates}{ramp}; text-encoder layer drop {args.layerdrop:g}")
    print(f"prior (text encoder, duration predictor, flow): {'kept' if run.prior_kept else 'learning'}, "
          f"{run.prior_reason}")
    if run.ema is not None:
        print(f"the model saved: the moving average of the generator's weights (decay {run.ema_decay:g}"
              f"{', the default with the prior kept' if args.ema_decay is None else ''})")
    processes = run.accelerator.num_processes
    print(f"steps: {total_steps} of batch {args.batch_size} x {args.gradient_accumulation_steps}"
          + (f" on {processes} processes" if processes > 1 else "") + f"; precision "
          f"{args.mixed_precision}; device {run.accelerator.device}"
          + (f"; resuming from {resume_from} at step {run.progress.step}" if resume_from else ""))


class StopSignal:
    """Turns Ctrl-C and SIGTERM into a flag the loop checks between steps."""

    def __init__(self):
        self.received: int | None = None
        self.previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.previous[sig] = signal.signal(sig, self.handle)
            except ValueError:  # not the main thread: signals stay with the caller
                pass
        return self

    def handle(self, sig, frame):
        self.received = sig

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
