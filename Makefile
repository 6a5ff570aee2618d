# mut_eval — the two commands: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STUDY  ?= mut_eval/data/example_study
NAME   ?= $(if $(filter mut_eval/data/example_study,$(STUDY)),example,$(notdir $(patsubst %/,%,$(STUDY))))
OUT    ?= reports/$(NAME)
LANG_REPORT ?=

.PHONY: install test report analyze bench notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

report: $(STAMP)
	$(BIN)/mut-eval report $(STUDY) --out $(OUT) $(if $(LANG_REPORT),--lang $(LANG_REPORT))

analyze: $(STAMP)
	$(BIN)/mut-eval analyze $(STUDY) --out $(OUT)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

notebooks: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) reports/example .pytest_cache
