# Two commands for a newcomer:
#   make demo   create .venv, install requirements, fine-tune the stand-in voice on data/demo (offline, CPU)
#   make test   create .venv, install requirements, run the test suite

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := runs/demo
HELLO := Ez 25 salî me û ez li Amedê dijîm.
export HF_HUB_OFFLINE := 1
# a stage that fails stops the demo though its output goes through tee, which shows it as it comes
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
export PYTHONUNBUFFERED := 1

.PHONY: demo test venv bench clean-demo

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))' || \
		{ echo "error: $(PYTHON) is older than Python 3.10 (3.11 is what this was measured on): make demo PYTHON=python3.11"; exit 1; }
	@command -v cc >/dev/null && $(PYTHON) -c 'import sysconfig, os, sys; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' || \
		{ echo "error: two analysis libraries (pyworld, pysptk) build from source: install a C compiler and Python's headers (apt-get install build-essential python3-dev)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: venv
	$(PY) prepare_data.py --dataset data/demo --output_dir $(DEMO)/training --top_speakers 1
	awk -F'\t' '$$2 == "heldout" {print $$3}' data/corpus/sentences.tsv > $(DEMO)/heldout.txt
	$(PY) synthesize.py --model data/pretrained/model --text "$(HELLO)" --output $(DEMO)/hello_standin.wav \
		--seed 0 --asr_model data/judge
	$(PY) synthesize.py --model data/pretrained/model --text_file $(DEMO)/heldout.txt --output $(DEMO)/heldout_standin \
		--seed 0 --asr_model data/judge | tee $(DEMO)/heldout_standin.log
	$(PY) train_vits.py --data_dir $(DEMO)/training --model_name_or_path data/pretrained/model \
		--output_dir $(DEMO)/model --checkpoint_dir $(DEMO)/training/checkpoints --batch_size 8 \
		--gradient_accumulation_steps 1 --learning_rate 1e-4 --max_steps 100 --save_steps 100 --eval_steps 100
	$(PY) synthesize.py --model $(DEMO)/model --text "$(HELLO)" --output $(DEMO)/hello.wav --seed 0 --asr_model data/judge
	$(PY) synthesize.py --model $(DEMO)/model --text_file $(DEMO)/heldout.txt --output $(DEMO)/heldout \
		--seed 0 --asr_model data/judge | tee $(DEMO)/heldout.log
	$(PY) synthesize.py --evaluate --model data/pretrained/model --model $(DEMO)/model \
		--metadata $(DEMO)/training/metadata_eval.csv --report $(DEMO)/evaluation/report.json
	@echo "The 20 sentences neither voice trained on ($(DEMO)/heldout_standin/, $(DEMO)/heldout/), the mean of each:"
	@echo "  the stand-in:  $$(tail -n 1 $(DEMO)/heldout_standin.log | sed 's/.*the mean: //')"
	@echo "  fine-tuned:    $$(tail -n 1 $(DEMO)/heldout.log | sed 's/.*the mean: //')"

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests

bench: venv
	$(PY) bench/bench_prepare.py
	$(PY) bench/bench_text.py
	$(PY) bench/bench_alignment.py
	$(PY) bench/bench_training.py
	$(PY) bench/bench_synthesis.py
	-$(PY) bench/bench_voice.py  # exits 1 while the stand-in misses its own bar (BENCHMARKS): the rest still runs
	$(PY) bench/bench_learning.py

clean-demo:
	rm -rf $(DEMO)
