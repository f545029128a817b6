# Two commands for a newcomer:
#   make demo   create .venv, install requirements, run the whole pipeline on data/demo (offline, CPU)
#   make test   create .venv, install requirements, run the test suite

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := runs/demo
export HF_HUB_OFFLINE := 1

.PHONY: demo test venv bench clean-demo

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: venv
	$(PY) prepare_data.py --dataset data/demo --output_dir $(DEMO)/training
	$(PY) train_vits.py --data_dir $(DEMO)/training --init_config configs/tiny.json \
		--output_dir $(DEMO)/model --checkpoint_dir $(DEMO)/training/checkpoints \
		--batch_size 8 --gradient_accumulation_steps 1 --learning_rate 2e-3 \
		--max_steps 300 --save_steps 100 --eval_steps 100 --discriminator_warmup_steps 0
	$(PY) synthesize.py --model $(DEMO)/model --text "Ez 25 salî me û ez li Amedê dijîm." --output $(DEMO)/hello.wav

test: venv
	$(PY) -m pytest -q tests

bench: venv
	$(PY) bench/bench_prepare.py
	$(PY) bench/bench_alignment.py
	$(PY) bench/bench_training.py
	$(PY) bench/bench_synthesis.py
	$(PY) bench/bench_learning.py

clean-demo:
	rm -rf $(DEMO)
