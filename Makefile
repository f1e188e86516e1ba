# The two commands of the README. Each does its own set-up (scripts/bootstrap.sh).
.PHONY: demo test lint bench train finetune

demo:
	@bash scripts/bootstrap.sh run
	@.venv/bin/python scripts/demo.py

test:
	@bash scripts/bootstrap.sh test
	@.venv/bin/python -m ruff check voicejournal tests bench scripts training
	@.venv/bin/python -m pytest

lint:
	@.venv/bin/python -m ruff check voicejournal tests bench scripts training

bench:
	@bash scripts/bootstrap.sh test
	@for b in bench/bench_*.py; do .venv/bin/python $$b || exit 1; done

# Rebuild the installed trained head (risk) from the labelled data in training/.
train:
	@bash scripts/bootstrap.sh test
	@.venv/bin/python training/train.py all

# Fine-tune the encoder's adapters first (needs torch: the `train` extra), then the heads.
finetune:
	@bash scripts/bootstrap.sh test
	@.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[train]'
	@.venv/bin/python training/finetune.py
	@.venv/bin/python training/train.py all
