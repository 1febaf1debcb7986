# Two commands for a fresh machine: `make book` and `make test`.
# Both create .venv when it is missing and install the package with everything it needs;
# a second run skips set-up that is already done (the stamp file is newer than pyproject.toml).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rvit-installed
PROFILE ?= book
JOBS ?= 1

.PHONY: setup lab check-lab check-colab test lint format book publish run-times mathjax check-book book-clean bench study clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

# JupyterLab on a scratch copy of the notebooks: lab/ (ignored by git) receives any notebook it does not
# have yet and keeps the reader's edits and outputs, so nothing a reader runs reaches notebooks/.
# `rm -rf lab` starts again from the committed chapters. The copies cite as the book does, "(Yang et al., 2022)",
# instead of {cite:p} roles, which JupyterLab does not resolve; their {eval} roles stay for jupyterlab-myst. Extra options go to JupyterLab through LAB_ARGS,
# e.g. `make lab LAB_ARGS="--no-browser --port 8890"` (`--allow-root` inside a container run as root).
LAB := lab
LAB_ARGS ?=
LAB_STAMP := $(VENV)/.rvit-lab-installed

lab: $(LAB_STAMP)
	@mkdir -p $(LAB)
	@for nb in notebooks/*.ipynb; do test -e $(LAB)/$${nb##*/} || \
		$(BIN)/python tools/readable_notebooks.py --cite-only $$nb $(LAB)/$${nb##*/} || exit 1; done
	$(BIN)/jupyter lab $(LAB) $(LAB_ARGS)

$(LAB_STAMP): $(STAMP) tools/lab_settings.py
	$(BIN)/python -m pip install --quiet -e ".[dev,lab]"
	$(BIN)/python tools/lab_settings.py
	@touch $(LAB_STAMP)

# The prose's numbers in JupyterLab: each chapter (a scratch copy at the smoke profile) runs in JupyterLab
# with jupyterlab-myst under headless Chromium (Run All), and the check fails on an {eval} role that did
# not show its value. Skipped with a message without Chromium. Options: CHECK_LAB_ARGS (--help).
CHECK_LAB_ARGS ?=

check-lab: $(LAB_STAMP)
	$(BIN)/python tools/check_lab.py $(CHECK_LAB_ARGS)

# A chapter as Colab runs it: copied alone, in a fresh venv holding only what Colab has (torch, torchvision,
# the scientific Python; no PyAV, no rvit), with a stand-in google.colab module, so that its first cell
# clones this checkout (git redirects the repository URL here), installs the package and finds results/.
check-colab: setup
	$(BIN)/python tools/check_colab.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest

book: setup
	$(BIN)/jupyter-book build book/ -W --keep-going

# The built book to the repository's gh-pages branch (GitHub Pages): the site, and in it executed/NN.ipynb,
# each chapter executed with its numbers in the text, which the chapters' Colab badges and buttons open.
publish: setup
	@test -d book/_build/html/executed || { echo "book/_build/html/executed not found: run 'make book' first"; exit 2; }
	@test -x $(BIN)/ghp-import || $(BIN)/python -m pip install --quiet ghp-import
	$(BIN)/ghp-import -n -p -f book/_build/html

# Each chapter's running time at the book profile, measured by executing it alone (a chapter that takes
# over a minute is left to the book build, which measures every chapter it runs): results/book/run_times.json.
run-times: setup
	$(BIN)/python tools/run_times.py notebooks/*.ipynb

# MathJax 3 from the npm registry into .cache/mathjax (ignored by git), for check-book: the pages load it
# from there instead of its CDN, so the math is typeset (and the page heights are real) without a network.
# Without npm the check goes on with the CDN's (raw TeX when offline).
MATHJAX := .cache/mathjax/node_modules/mathjax/es5/tex-mml-chtml.js

mathjax: $(MATHJAX)

$(MATHJAX):
	@command -v npm >/dev/null || { echo "npm not found: check-book loads MathJax from its CDN"; exit 0; }
	npm install --prefix .cache/mathjax --no-audit --no-fund --silent mathjax@3

# The built book as its readers meet it: headless Chromium (`apt install chromium`; skipped with a message
# when it is missing) loads every page of book/_toc.yml at a 1,200 px wide window with MathJax typeset,
# prints each page's height and what it measured, and fails on a visible traceback, an unrendered role,
# a table wider than the text column or with colliding cells, display math, code or an output wider than
# the text column, or an image or canvas whose text renders below 9 px.
# Options go through CHECK_BOOK_ARGS (`python tools/check_book.py --help`).
CHECK_BOOK_ARGS ?=

check-book: setup mathjax
	@test -d book/_build/html || { echo "book/_build/html not found: run 'make book' first"; exit 2; }
	$(BIN)/python tools/check_book.py $(CHECK_BOOK_ARGS)

book-clean:
	rm -rf book/_build

bench: setup
	$(BIN)/python benchmarks/run_all.py

study: setup
	$(BIN)/python -m rvit study run --profile $(PROFILE) --jobs $(JOBS)

clean: book-clean
	rm -rf $(VENV) .pytest_cache .ruff_cache
