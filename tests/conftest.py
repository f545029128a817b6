"""Shared fixtures: a Common Voice release folder, a tiny random model, a service workspace
(helpers.py and serving.py have the rest)."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # the hub is never reached from the tests: set before any library reads it

import shutil
from pathlib import Path

import pytest
from helpers import random_model
from serving import STANDIN

from kurdish_tts.samples.commonvoice import default_rows, write_release


@pytest.fixture
def release(tmp_path) -> Path:
    return write_release(tmp_path / "cv-corpus-test" / "kmr", default_rows())


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return random_model(tmp_path_factory.mktemp("model"), seed=0)


@pytest.fixture
def workspace(tmp_path) -> Path:
    """models/kurdish (the stand-in) and an empty training folder, as serve.py expects them."""
    shutil.copytree(STANDIN, tmp_path / "models" / "kurdish")
    (tmp_path / "training").mkdir()
    return tmp_path
