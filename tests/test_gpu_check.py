"""bench/gpu_check.py's logic on the CPU (its GPU figures come from a CUDA machine: BENCHMARKS.md)."""

import json
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import gpu_check


def test_the_gpu_check_runs_its_training_and_reports_on_the_cpu(tmp_path, capsys):
    output = tmp_path / "check.json"
    assert gpu_check.main(["--cpu", "--config", str(ROOT / "configs" / "tiny.json"), "--steps", "2",
                           "--batch_size", "2", "--gradient_accumulation_steps", "2", "--precisions", "bf16", "no",
                           "--clips", "6", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["device"] == "cpu" and report["torch"] and report["ok"] is True
    assert [run["precision"] for run in report["runs"]] == ["bf16", "no"]  # no 8 GB run without a GPU
    for run in report["runs"]:
        assert run["exit_code"] == 0 and run["finite"] and run["seconds_per_step"] > 0
        assert run["max_memory_allocated_gb"] is None and run["scaler_skipped_steps"] == []
        assert set(run["final_losses"]) >= {"loss_mel", "loss_kl", "loss_dur", "loss_gen", "grad_norm_g"}


def test_the_gpu_check_says_when_there_is_no_gpu(capsys):
    import torch

    if torch.cuda.is_available():
        return
    assert gpu_check.main([]) == 2
    assert "no CUDA GPU here" in capsys.readouterr().err
