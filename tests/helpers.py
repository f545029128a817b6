"""What several test files share: paths, the tiny config's training flags, recordings, random
models and loading a script of data/ or bench/ from its file. (Generated clips and data sets that
the benchmarks need too live in the package: kurdish_tts.samples.)"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import torch

from kurdish_tts.samples.signals import encode, speech_like
from kurdish_tts.scoring.references import noise_like

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.json"


def args_for(data: Path, out: Path, *extra) -> list[str]:
    """train_vits.py's flags for a short run of the tiny config from random weights on `data`."""
    return ["--data_dir", str(data), "--init_config", str(TINY), "--output_dir", str(out / "model"),
            "--checkpoint_dir", str(out / "checkpoints"), "--batch_size", "2", "--gradient_accumulation_steps", "1",
            "--learning_rate", "2e-3", "--discriminator_warmup_steps", "2", "--warmup_generator", "frozen",
            "--logging_steps", "1", "--eval_steps", "1000", "--save_steps", "1000", *map(str, extra)]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def random_model(folder: Path, seed: int = 1, **changes) -> Path:
    """A model folder of the tiny config (with `changes`) and random weights, saved like a trained one."""
    from transformers import VitsConfig, VitsModel

    from kurdish_tts.text.vocabulary import builtin_vocabulary, write_tokenizer_files

    values = json.loads(TINY.read_text())
    values.pop("discriminator")
    torch.manual_seed(seed)
    VitsModel(VitsConfig(**{**values, **changes})).save_pretrained(folder)
    write_tokenizer_files(folder, builtin_vocabulary())
    return folder


def recording(folder: Path, name: str, seed: int, seconds: float = 2.0, rate: int = 44100, channels: int = 1) -> Path:
    """A speech-like recording as a donor's app uploads it (mp3 or wav by the name's suffix)."""
    audio = speech_like(seconds, rate, seed=seed)
    if channels == 2:
        audio = np.stack([audio, audio * 0.5], axis=1)
    path = folder / name
    path.write_bytes(encode(audio, rate, "MP3" if name.endswith(".mp3") else "WAV"))
    return path


def read_metadata_lines(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split("|")) for line in path.read_text(encoding="utf-8").splitlines()]


def load_script(relative: str):
    """A program of data/ or bench/ (not an installed module) loaded from its file, to drive its main()
    or replace its parts."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drowned(clip: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """`clip` with white noise `snr_db` below its RMS, scaled back within full scale."""
    noisy = clip + 10 ** (-snr_db / 20) * noise_like(clip, np.random.default_rng(seed))
    return (noisy / max(1.0, float(np.abs(noisy).max()))).astype(np.float32)
