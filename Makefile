# alliance-report — every target bootstraps .venv/ (and the Debian packages WeasyPrint
# needs) on first use, so `make report` or `make test` works as the first command.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FREEZE ?= data/demo-freeze
OUT    ?=
RENDERER ?= weasyprint

# Debian packages: pango comes with the image; harfbuzz-subset makes WeasyPrint's font
# subsetting fast and quiet; poppler-utils (pdftotext) lets the tests read the PDF.
SYSTEM_LIBS := libharfbuzz-subset0 poppler-utils fonts-dejavu-core

.PHONY: report test system-deps venv clean

report: $(STAMP)
	$(BIN)/alliance-report build $(FREEZE) $(if $(OUT),--out $(OUT))

test: $(STAMP)
	$(BIN)/python -m pytest

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock | system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

system-deps:
	@missing=$$(for p in $(SYSTEM_LIBS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing Debian packages: $$missing"; \
	    if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) reports .pytest_cache
