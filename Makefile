# The two commands of the README. Each does its own set-up (scripts/bootstrap.sh).
.PHONY: demo test lint bench

demo:
	@bash scripts/bootstrap.sh run
	@.venv/bin/python scripts/demo.py

test:
	@bash scripts/bootstrap.sh test
	@.venv/bin/python -m ruff check voicejournal tests bench scripts
	@.venv/bin/python -m pytest

lint:
	@.venv/bin/python -m ruff check voicejournal tests bench scripts

bench:
	@bash scripts/bootstrap.sh test
	@for b in bench/bench_*.py; do .venv/bin/python $$b || exit 1; done
