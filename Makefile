# wenshu — two commands: `make run` (the service) and `make test` (the suite).
# Both install what is missing first (Debian packages, .venv), idempotently.
.PHONY: setup run test lint bench clean container-check

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

# The image from docker/Dockerfile and the compose stack under rootful podman (scripts/container_check.py).
container-check: setup
	.venv/bin/python scripts/container_check.py

bench: setup
	.venv/bin/python bench/e2e_vs_raw.py

clean:
	rm -rf .venv .pytest_cache .ruff_cache .run
