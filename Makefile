# The two commands a new user needs: `make demo` and `make test`. Both build .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test package bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m local.demo

serve: $(STAMP)
	$(BIN)/python -m local.stack

test: $(STAMP)
	$(BIN)/python -m pytest

# The CloudFormation (SAM) template and deployment.zip of a stage: `make package STAGE=prod` (default dev).
package: $(STAMP)
	rm -rf build/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage $(or $(STAGE),dev) \
		--merge-template infra/template.json build/package/
	$(BIN)/cfn-lint build/package/sam.json

# Range reads against download-then-extract, side by side (prints medians and ratios).
bench: $(STAMP)
	$(BIN)/python -m bench.range_reads

clean:
	rm -rf $(VENV) build demo-output
