# wenshu — two commands: `make run` (the service) and `make test` (the suite).
# Both install what is missing first (Debian packages, .venv), idempotently.
.PHONY: setup run test lint bench clean

setup:
	@bash scripts/install-system.sh
	@bash scripts/setup-venv.sh

run: setup
	@bash scripts/run.sh

test: setup
	.venv/bin/ruff check service worker core cli tests bench scripts
	.venv/bin/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	.venv/bin/ruff check service worker core cli tests bench scripts

bench: setup
	.venv/bin/python bench/e2e_vs_raw.py

clean:
	rm -rf .venv .pytest_cache .ruff_cache .run
