# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
# Python comes from the lock file (uv.lock), Meilisearch from the pinned npm package (package-lock.json).
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: run test setup lint clean

run: setup
	.venv/bin/atelier serve --demo

test: setup
	.venv/bin/pytest

setup: .venv/.synced node_modules/.installed

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml $(UV)
	$(UV) sync --frozen --python python3
	touch $@

node_modules/.installed: package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf .venv .tools node_modules
