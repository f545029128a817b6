"""Training checkpoints: what one holds, saving one atomically, finding them, and resuming one after
checking that it is this run's.

    checkpoint-N/
      generator.safetensors, discriminator.safetensors   the weights as they train (weight norm on)
      ema.safetensors     with --ema_decay: the moving average of the generator's (model/ holds it)
      state.json          progress, both learning-rate schedules, the run's settings and data fingerprint
      optimizer.bin, optimizer_1.bin, random_states_*.pkl[, scaler.pt]   accelerate's files
      model/              a plain model folder; progress.json: step, epoch, run id, time saved

Nothing in a checkpoint can run code when it is resumed: the run's own state is safetensors and
JSON, and accelerate's files load with `weights_only=True` (a file that needs more is refused in
one line). Checkpoints saved before state.json existed hold the same state as pickles
(`custom_checkpoint_0..4.pkl`); they load with `weights_only=True` too, with a notice that their
settings cannot be checked.
"""

from __future__ import annotations

import json
import pickle
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from kurdish_tts.files import replace_folder, restore_replaced_folder
from kurdish_tts.training.errors import CheckpointError, TrainingError
from kurdish_tts.training.output import save_model_folder
from kurdish_tts.training.settings import compare_settings

if TYPE_CHECKING:
    from kurdish_tts.training.state import Run

CHECKPOINT_PREFIX = "checkpoint-"
OPTIMIZER_FILES = ("optimizer.bin", "optimizer_1.bin")  # accelerate's names: the generator's, the discriminator's

STATE_FILE = "state.json"
GENERATOR_FILE = "generator.safetensors"
DISCRIMINATOR_FILE = "discriminator.safetensors"
EMA_FILE = "ema.safetensors"  # --ema_decay: the moving average of the generator's weights
LEGACY_FILES = [f"custom_checkpoint_{i}.pkl" for i in range(5)]  # generator, discriminator, 2 schedules, progress

def save_state(folder: Path, generator, discriminator, schedulers: list, progress: dict, settings: dict,
               record: dict | None = None, ema: dict | None = None) -> None:
    """`record`: what the caller needs to resume the same run (a feedback round: the clips it staged);
    `ema`: the moving average of the generator's weights (--ema_decay)."""
    from safetensors.torch import save_file

    for module, name in ((generator, GENERATOR_FILE), (discriminator, DISCRIMINATOR_FILE)):
        save_file({k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}, str(folder / name))
    if ema is not None:
        save_file({k: v.detach().cpu().contiguous() for k, v in ema.items()}, str(folder / EMA_FILE))
    state = {"progress": progress, "schedulers": [s.state_dict() for s in schedulers], "settings": settings,
             "record": record or {}}
    (folder / STATE_FILE).write_text(json.dumps(state, indent=1), encoding="utf-8")


def read_ema(folder: Path) -> dict:
    """The moving average a checkpoint of an --ema_decay run holds."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(folder / EMA_FILE))
    except (OSError, SafetensorError) as e:
        raise CheckpointError(f"--resume {folder}: no readable {EMA_FILE} (was it saved without --ema_decay?); "
                              f"resume with the settings it was trained with") from e


def read_record(folder: Path) -> dict:
    """The caller's record in a checkpoint ({} when it has none or predates records)."""
    try:
        return json.loads((folder / STATE_FILE).read_text(encoding="utf-8")).get("record", {})
    except (OSError, json.JSONDecodeError, AttributeError):
        return {}


def read_state(folder: Path) -> tuple[list[dict], list[dict], dict, dict | None]:
    """-> (generator and discriminator weights, schedules, progress, settings or None for an old checkpoint)."""
    if (folder / STATE_FILE).is_file():
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            weights = [load_file(str(folder / name)) for name in (GENERATOR_FILE, DISCRIMINATOR_FILE)]
            return weights, state["schedulers"], state["progress"], state["settings"]
        except (OSError, json.JSONDecodeError, KeyError, SafetensorError) as e:
            raise CheckpointError(f"--resume {folder}: the checkpoint is incomplete or damaged ({e}); "
                                  f"resume from another one") from e
    if all((folder / name).is_file() for name in LEGACY_FILES):
        values = [safe_load(folder / name, folder) for name in LEGACY_FILES]
        return values[:2], values[2:4], values[4], None
    raise CheckpointError(f"--resume {folder}: no {STATE_FILE}: not a checkpoint saved by train_vits.py")


def apply_state(folder: Path, weights: list[dict], schedules: list[dict], generator, discriminator,
                schedulers: list) -> None:
    for module, values in zip((generator, discriminator), weights):
        try:
            module.load_state_dict(values)
        except RuntimeError as e:
            first = str(e).strip().splitlines()[0]
            raise CheckpointError(f"--resume {folder}: its weights do not fit this model ({first}); resume with the "
                                  f"model it was trained from") from e
    for scheduler, values in zip(schedulers, schedules):
        scheduler.load_state_dict(values)


def safe_load(path: Path, folder: Path):
    """torch.load that runs no code: CheckpointError for a file that would need more than tensors and plain values."""
    from accelerate.utils import load

    try:
        return load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError, TypeError) as e:
        raise CheckpointError(f"--resume {folder}: {path.name} holds more than tensors and plain values (or is "
                              f"damaged); it was not loaded, as loading it could run code: resume from a "
                              f"checkpoint of your own") from e


def read_accelerate_files(folder: Path) -> list[dict]:
    """Every pickle accelerate saved, loaded without running code; -> the optimisers' states.

    The optimisers' states are handed to the optimisers from here (they are the big files: read
    once); the random states and the scaler are only checked here and loaded by accelerate, which
    would pass over random states it cannot read and make the resumed run differ."""
    for path in sorted(folder.glob("random_states_*.pkl")) + sorted(folder.glob("scaler.pt")):
        safe_load(path, folder)
    missing = [name for name in OPTIMIZER_FILES if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"--resume {folder}: {', '.join(missing)} missing: the checkpoint is incomplete; "
                              f"resume from another one")
    return [safe_load(folder / name, folder) for name in OPTIMIZER_FILES]


# --- the folders of a run ----------------------------------------------------------------------

def list_checkpoints(folder: Path, run_id: str | None = None) -> list[Path]:
    """The checkpoints in `folder` by step (only those of run `run_id` when it is given)."""
    found = [p for p in Path(folder).glob(f"{CHECKPOINT_PREFIX}*") if p.is_dir() and p.name[len(CHECKPOINT_PREFIX):].isdigit()]
    if run_id is not None:
        found = [p for p in found if checkpoint_record(p).get("run") == run_id]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def checkpoint_record(path: Path) -> dict:
    """A checkpoint's progress.json: step, epoch, run (its run's id) and saved (a Unix time)."""
    try:
        return json.loads((path / "progress.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint saved last, whatever its step: a folder may also hold an earlier run's."""
    found = list_checkpoints(folder)
    return max(found, key=lambda p: checkpoint_record(p).get("saved", p.stat().st_mtime)) if found else None


def remove_run_checkpoints(folder: Path, run_id: str) -> None:
    for path in list_checkpoints(folder, run_id):
        shutil.rmtree(path)


def resolve_resume(args) -> Path | None:
    if not args.resume:
        return None
    if args.resume == "latest":
        put_back_set_aside(args.checkpoint_dir)  # before choosing: it may be the latest
        found = latest_checkpoint(args.checkpoint_dir)
        if found is None:
            raise TrainingError(f"--resume: no checkpoint in {args.checkpoint_dir}; train without --resume to start fresh")
        return found
    path = Path(args.resume)
    if not (path / "progress.json").is_file():
        raise TrainingError(f"--resume {path}: not a checkpoint folder made by this toolkit")
    return path


def put_back_set_aside(folder: Path) -> None:
    """A save killed between its two renames left the checkpoint it replaces set aside
    (`.checkpoint-N.old`): put it back when its replacement is not in place, else remove it."""
    for aside in folder.glob(f".{CHECKPOINT_PREFIX}*.old") if folder.is_dir() else []:
        target = aside.with_name(aside.name[1:].removesuffix(".old"))
        try:
            if not restore_replaced_folder(target):
                shutil.rmtree(aside, ignore_errors=True)
        except FileNotFoundError:  # another process of this run was first
            pass


def remove_unfinished(folder: Path) -> int:
    """Remove the checkpoints a killed save left half written (`.tmp-checkpoint-*`, often gigabytes of
    optimiser state), after putting back one it had set aside to replace; -> how many."""
    put_back_set_aside(folder)
    unfinished = list(folder.glob(f".tmp-{CHECKPOINT_PREFIX}*")) if folder.is_dir() else []
    for path in unfinished:
        shutil.rmtree(path, ignore_errors=True)
    return len(unfinished)


def save_checkpoint(run: Run) -> Path:
    """Write the whole training state to `checkpoint-<step>`: into a temporary folder, renamed when complete."""
    args, accelerator = run.args, run.accelerator
    target = args.checkpoint_dir / f"{CHECKPOINT_PREFIX}{run.progress.step}"
    if accelerator.is_main_process:
        args.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    tmp = args.checkpoint_dir / f".tmp-{CHECKPOINT_PREFIX}{run.progress.step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))  # the optimisers, the gradient scaler, every process's random states
    if accelerator.is_main_process:
        save_state(tmp, run.model, run.discriminator, [run.scheduler_g, run.scheduler_d],
                   run.progress.state_dict(), run.settings, run.record, run.ema)
        save_model_folder(run, tmp / "model")
        record = {"step": run.progress.step, "epoch": run.progress.epoch, "run": run.progress.run_id, "saved": time.time()}
        (tmp / "progress.json").write_text(json.dumps(record), encoding="utf-8")
        replace_folder(tmp, target)  # a checkpoint of the same step is removed only once this one has its name
        for old in list_checkpoints(args.checkpoint_dir, run.progress.run_id)[: -args.save_total_limit]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return target



def resume(run: Run, folder: Path) -> list[str]:
    """Load a checkpoint into the run after checking that it is this run's (same settings, same data)
    and that nothing in it would run code; -> notices about harmless changes."""
    try:
        optimizers = read_accelerate_files(folder)
        weights, schedules, progress, settings = read_state(folder)
        notices = (compare_settings(settings, run.settings, folder) if settings is not None else
                   [f"{folder} was saved before checkpoints recorded their settings: they are not checked"])
        apply_state(folder, weights, schedules, run.model, run.discriminator, [run.scheduler_g, run.scheduler_d])
        if run.ema is not None:  # read onto the CPU: the average lives where the weights do
            run.ema = {name: value.to(run.accelerator.device) for name, value in read_ema(folder).items()}
        for optimizer, state in zip((run.optimizer_g, run.optimizer_d), optimizers):
            try:
                optimizer.load_state_dict(state)
            except (ValueError, KeyError) as e:
                raise CheckpointError(f"--resume {folder}: its optimiser states do not fit this run ({e}); resume "
                                      f"with the settings it was trained with") from e
    except CheckpointError as e:
        raise TrainingError(str(e)) from e
    run.progress.load_state_dict(progress)
    # The scaler, every process's random states (checked above), and accelerate's count of micro-batches,
    # which decides where accumulated steps end. Its loader directly: Accelerator.load_state refuses a folder
    # with the pickles of older checkpoints, which it no longer loads.
    from accelerate.checkpointing import load_accelerator_state

    accelerator = run.accelerator
    scaler = accelerator.scaler if (folder / "scaler.pt").is_file() else None  # none saved by a run without fp16
    restored = load_accelerator_state(str(folder), [], [], [], [], accelerator.process_index, scaler,
                                      "on_device" if accelerator.num_processes > 1 else "cpu")
    accelerator.step = restored.get("step", accelerator.step)
    return notices
