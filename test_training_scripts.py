#!/usr/bin/env python3
"""Run the toolkit's test suite (the same as `make test`): python test_training_scripts.py [pytest args]."""

import os
import sys

import pytest

if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.exit(pytest.main([os.path.join(os.path.dirname(os.path.abspath(__file__)), "tests"), "-q", *sys.argv[1:]]))
