"""bench/gpu_check.py's logic on the CPU (its GPU figures come from a CUDA machine: BENCHMARKS.md),
run as a user runs it."""

import json
import subprocess
import sys

import pytest
from helpers import ROOT

GPU_CHECK = ROOT / "bench" / "gpu_check.py"


def gpu_check(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(GPU_CHECK), *argv], capture_output=True, text=True, check=False)


def test_the_gpu_check_runs_its_training_and_reports_on_the_cpu(tmp_path):
    output = tmp_path / "check.json"
    result = gpu_check("--cpu", "--config", str(ROOT / "configs" / "tiny.json"), "--steps", "2", "--batch_size", "2",
                       "--gradient_accumulation_steps", "2", "--precisions", "bf16", "no", "--clips", "6",
                       "--output", str(output))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["device"] == "cpu" and report["torch"] and report["ok"] is True
    assert [run["precision"] for run in report["runs"]] == ["bf16", "no"]  # no 8 GB run without a GPU
    for run in report["runs"]:
        assert run["exit_code"] == 0 and run["finite"] and run["seconds_per_step"] > 0
        assert run["max_memory_allocated_gb"] is None and run["scaler_skipped_steps"] == []
        assert set(run["final_losses"]) >= {"loss_mel", "loss_kl", "loss_dur", "loss_gen", "grad_norm_g"}


def test_the_gpu_check_says_when_there_is_no_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here")
    result = gpu_check()
    assert result.returncode == 2 and "no CUDA GPU here" in result.stderr
