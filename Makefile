# Two commands for a newcomer:
#   make demo   create .venv, install requirements, fine-tune the stand-in voice on data/demo (offline, CPU)
#   make test   create .venv, install requirements, run the test suite

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := runs/demo
HELLO := Ez 25 salî me û ez li Amedê dijîm.
export HF_HUB_OFFLINE := 1

.PHONY: demo test venv bench clean-demo

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: venv
	$(PY) prepare_data.py --dataset data/demo --output_dir $(DEMO)/training --top_speakers 1
	$(PY) synthesize.py --model data/pretrained/model --text "$(HELLO)" --output $(DEMO)/hello_standin.wav \
		--seed 0 --asr_model data/judge
	$(PY) train_vits.py --data_dir $(DEMO)/training --model_name_or_path data/pretrained/model \
		--output_dir $(DEMO)/model --checkpoint_dir $(DEMO)/training/checkpoints --batch_size 8 \
		--gradient_accumulation_steps 1 --learning_rate 1e-4 --max_steps 300 --save_steps 300 --eval_steps 300
	$(PY) synthesize.py --model $(DEMO)/model --text "$(HELLO)" --output $(DEMO)/hello.wav --seed 0 --asr_model data/judge

test: venv
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q tests

bench: venv
	$(PY) bench/bench_prepare.py
	$(PY) bench/bench_text.py
	$(PY) bench/bench_alignment.py
	$(PY) bench/bench_training.py
	$(PY) bench/bench_synthesis.py
	$(PY) bench/bench_voice.py
	$(PY) bench/bench_learning.py

clean-demo:
	rm -rf $(DEMO)
