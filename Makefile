# Set-up is part of every target: a fresh clone needs only `make run` or `make test`.
# Python comes from the lock file (uv.lock), Meilisearch from the pinned npm package (package-lock.json).
UV_VERSION := 0.13.8
UV := .tools/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: run test setup lint clean browser

run: setup
	.venv/bin/atelier serve --demo

test: setup browser
	.venv/bin/pytest

setup: .venv/.synced node_modules/.installed

# The browser tests drive Debian's Chromium (Playwright's own download cannot work here).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq chromium >/dev/null; } || { echo "install Debian's chromium (apt-get install chromium) for the browser tests" >&2; exit 1; }

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
