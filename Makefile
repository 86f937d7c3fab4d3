# Two commands: `make run` sets up and runs the bot; `make test` sets up and runs every check but the image's
# (`make container`: builds the Dockerfile with buildah, minutes when nothing is cached; CI runs it after).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run once demo test lint typecheck unit container bench lock clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot run

once: $(STAMP)
	$(PY) -m bot once

demo: $(STAMP)
	$(PY) -m bot demo

lint: $(STAMP)
	$(PY) -m ruff check .

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest -q -n 4 --dist worksteal --durations=15 -m "not container"

container: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -m container --durations=5 tests/end_to_end/test_container.py

test: lint typecheck unit

bench: $(STAMP)
	$(PY) -m bench

lock: $(STAMP)
	(echo "# Full pinned dependency tree (pip constraints). Regenerate: make lock"; \
	 $(PY) -m pip freeze --exclude-editable | grep -v '^trendwatch') > requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
