# mut_eval — the two commands: `make report` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STUDY  ?= mut_eval/data/example_study
NAME   ?= $(if $(filter mut_eval/data/example_study,$(STUDY)),example,$(notdir $(patsubst %/,%,$(STUDY))))
LANG_REPORT ?=
# The study's own language (study.yaml `language:`, default nl); a report in another
# language goes to reports/<name>_<lang>, so LANG_REPORT=en does not overwrite the Dutch one.
STUDY_LANG := $(or $(shell sed -n 's/^language:[[:space:]]*["'"'"']\{0,1\}\([a-z]*\).*/\1/p' $(STUDY)/study.yaml 2>/dev/null),nl)
OUT    ?= reports/$(NAME)$(if $(filter-out $(STUDY_LANG),$(LANG_REPORT)),_$(LANG_REPORT))
# A programme folder (programme.yaml + one study folder per cohort): `make report PROGRAMME=path`;
# `make report-programme` runs the embedded example programme.
PROGRAMME ?=
EXAMPLE_PROGRAMME := mut_eval/data/example_programme
PROG_NAME = $(if $(filter $(EXAMPLE_PROGRAMME),$(patsubst %/,%,$(PROGRAMME))),example,$(notdir $(patsubst %/,%,$(PROGRAMME))))
PROG_LANG = $(or $(shell sed -n 's/^language:[[:space:]]*["'"'"']\{0,1\}\([a-z]*\).*/\1/p' $(PROGRAMME)/programme.yaml 2>/dev/null),nl)
PROG_OUT ?= reports/programme_$(PROG_NAME)$(if $(filter-out $(PROG_LANG),$(LANG_REPORT)),_$(LANG_REPORT))

.PHONY: install test report report-programme analyze bench validate notebooks clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

report: $(STAMP)
ifeq ($(strip $(PROGRAMME)),)
	$(BIN)/mut-eval report $(STUDY) --out $(OUT) $(if $(LANG_REPORT),--lang $(LANG_REPORT))
else
	$(BIN)/mut-eval programme $(PROGRAMME) --out $(PROG_OUT) $(if $(LANG_REPORT),--lang $(LANG_REPORT))
endif

report-programme: $(STAMP)
	$(MAKE) report PROGRAMME=$(EXAMPLE_PROGRAMME)

analyze: $(STAMP)
	$(BIN)/mut-eval analyze $(STUDY) --out $(OUT)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# The simulation studies: the DiD models (issue 12 item 9; validation/RESULTS.md and
# RESULTS_mmrm.md) and selection on observables — adjustment, weighting, multiple
# imputation (issue 13; RESULTS_selection.md); >= 1000 replications per condition on
# 2 processes; each writes its results as it goes.
validate: $(STAMP)
	PYTHONPATH=. $(BIN)/python validation/sim_multilevel.py --reps 1000 --procs 2 \
	  --models lmm_pupil lmm_multilevel lmm_multilevel_satterthwaite cr2_change cr2_ancova wild_cluster_bootstrap wwc_corrected
	PYTHONPATH=. $(BIN)/python validation/sim_multilevel.py --reps 1000 --procs 2 \
	  --models lmm_multilevel mmrm_multilevel --conditions icc0.10_wholly icc0.10_half icc0.10_stable icc0.10_half_effect0.3 \
	  --out validation/RESULTS_mmrm.md --raw validation/raw/mmrm
	PYTHONPATH=. $(BIN)/python validation/sim_selection.py --reps 1000 --procs 2
	PYTHONPATH=. $(BIN)/python validation/sim_power.py --reps 20000

notebooks: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) reports/example reports/example_* reports/programme_* .pytest_cache
