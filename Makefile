# alliance-report — every target bootstraps .venv/ (and the Debian packages WeasyPrint
# needs) on first use, so `make report` or `make test` works as the first command.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FREEZE ?= data/demo-freeze
OUT    ?=
RENDERER ?= weasyprint
# make reports: every freeze folder in FREEZES, each into $(REPORTS_ROOT)/<study>-<freeze_id>/
FREEZES ?= data
REPORTS_ROOT ?= reports
# FORCE=1 rebuilds an up-to-date output; QUIET=1 hides the progress; JOBS=1 runs in one process;
# EDITION=open builds only the open edition (nothing by arm), EDITION=closed only the closed one;
# PREVIOUS=path compares `make report`'s freeze with an earlier one (make reports picks it itself)
PREVIOUS ?=
FORCE ?=
QUIET ?=
JOBS  ?=
EDITION ?= both
# the analysis settings (README "Settings"): STYLE=apa, DROPOUT_THRESHOLD=N, TABLE1_TESTS=1, BUILD_DATE=YYYY-MM-DD;
# FORCE, QUIET and TABLE1_TESTS are on with any non-empty value (FORCE=0 too)
STYLE ?=
DROPOUT_THRESHOLD ?=
TABLE1_TESTS ?=
BUILD_DATE ?=
BUILD_OPTIONS = --renderer $(RENDERER) --edition $(EDITION) $(if $(FORCE),--force) $(if $(QUIET),--quiet) $(if $(JOBS),--jobs $(JOBS)) \
	$(if $(STYLE),--style $(STYLE)) $(if $(DROPOUT_THRESHOLD),--dropout-threshold $(DROPOUT_THRESHOLD)) \
	$(if $(TABLE1_TESTS),--table1-tests) $(if $(BUILD_DATE),--build-date $(BUILD_DATE))
# a path as one shell word, whatever it holds (spaces, quotes, $, ;): 'a b' -> 'a b', it's -> 'it'\''s'
quote = '$(subst ','\'',$(1))'

# Debian packages: pango comes with the image; harfbuzz-subset makes WeasyPrint's font
# subsetting fast and quiet; librsvg2-bin (rsvg-convert) draws the CONSORT diagram's PNG for
# Quarto; poppler-utils (pdftotext) lets the tests read the PDF.
SYSTEM_LIBS := libharfbuzz-subset0 librsvg2-bin poppler-utils fonts-dejavu-core
# the slow tests also drive the HTML report in a headless browser (tests/test_browser.py)
TEST_SYSTEM_LIBS := chromium chromium-driver

.PHONY: report reports test test-slow check bench system-deps test-system-deps venv clean

report: $(STAMP)
	$(BIN)/alliance-report build $(call quote,$(value FREEZE)) $(if $(OUT),--out $(call quote,$(value OUT))) $(if $(PREVIOUS),--previous $(call quote,$(value PREVIOUS))) $(BUILD_OPTIONS)

reports: $(STAMP)
	$(BIN)/alliance-report build-all $(call quote,$(value FREEZES)) --out-root $(call quote,$(value REPORTS_ROOT)) $(BUILD_OPTIONS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_build.py

# make test: the fast suite (unit tests, the session's shared builds, one case of each kind of a
# matrix); make test-slow: the rest (tests marked slow: builds of their own, corpora of freezes,
# other processes, a browser); make check: both, as CI runs them (.ci/run)
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(STAMP) | test-system-deps
	$(BIN)/python -m pytest -m slow

check:  # one after the other, also under make -j
	$(MAKE) test
	$(MAKE) test-slow

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock | system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

# the Debian packages of $(1) that are missing, installed (as root, or with sudo)
install_debian = missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

system-deps:
	@$(call install_debian,$(SYSTEM_LIBS))

test-system-deps:
	@$(call install_debian,$(TEST_SYSTEM_LIBS))

clean:
	rm -rf $(VENV) reports .pytest_cache
