# The two commands a newcomer needs: `make test` and `make demo`. Both build their own
# virtual environment and the ansible_collections/mailwright/smtp layout Ansible expects.
PYTHON ?= python3
VENV   := $(CURDIR)/.venv
BIN    := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
# molecule and ansible-compat call ansible-config, ansible-playbook ... by name
export PATH := $(BIN):$(PATH)
export PYTHONPATH := $(COLLECTIONS):$(CURDIR)
export ANSIBLE_PYTHON_INTERPRETER := $(BIN)/python
export ANSIBLE_LOCALHOST_WARNING := false
export ANSIBLE_INVENTORY_UNPARSED_WARNING := false
PYTEST_ARGS ?=

.PHONY: test demo venv system-deps collection schema java-helper unit integration molecule sanity typecheck lint \
        bench build clean ee ee-context

test: venv system-deps collection schema-check unit integration molecule sanity typecheck lint
	@echo "make test: all checks passed"

venv: $(BIN)/.installed
$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

system-deps:
	tools/install-system-deps.sh

collection:
	tools/collection-tree.sh link

schema:
	$(BIN)/python tools/sync_schema.py

# The Java proof of test_send (client java), compiled for Java 8 into module_utils (needs javac).
java-helper: venv
	$(BIN)/python tools/build_java_helper.py

schema-check: venv
	$(BIN)/python tools/sync_schema.py --check
	$(BIN)/python tools/build_java_helper.py --check
	$(BIN)/check-jsonschema --check-metaschema schemas/mail-settings.schema.json
	$(BIN)/check-jsonschema --schemafile schemas/mail-settings.schema.json schemas/examples/*.yml

unit: venv collection
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

integration: venv system-deps collection
	$(BIN)/python -m pytest -q tests/integration $(PYTEST_ARGS)

# molecule 26's layout for collections: scenarios in extensions/molecule/<name>, all of them
# merged over extensions/molecule/config.yml (default: syntax of the ready playbooks).
molecule: venv collection
	$(BIN)/molecule test --all

# ansible-test needs a real (not symlinked) ansible_collections/mailwright/smtp tree, and
# fetches pip for its sanity venvs from its own file server: tools/ansible-test-get-pip.py
# does that job from the package registry instead.
sanity: venv
	@mkdir -p $(HOME)/.ansible/test/cache
	@cp tools/ansible-test-get-pip.py $(HOME)/.ansible/test/cache/get_pip_24_2.py
	cd "$$(tools/collection-tree.sh copy)" && $(BIN)/ansible-test sanity --python 3.11 --color no

# From the collections root, so the files are the package ansible_collections.mailwright.smtp.
typecheck: venv collection
	cd $(COLLECTIONS) && $(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
	  -p ansible_collections.mailwright.smtp.plugins.module_utils -p ansible_collections.mailwright.smtp.plugins.modules

lint: venv collection
	$(BIN)/ruff check plugins tests tools benchmarks extensions
	$(BIN)/ansible-lint --offline

demo: venv system-deps collection
	$(BIN)/python tools/demo.py

bench: venv system-deps collection
	$(BIN)/python benchmarks/run.py

build: venv
	$(BIN)/ansible-galaxy collection build --force --output-path .build/dist

# The execution environment from the built tarball. `make ee` builds it with rootful Podman on the
# local Debian base (tools/ee/base-image.sh makes it once); `make ee-context` only writes the build
# context of the public-base definition (execution-environment.yml) into .build/ee/public.
EE_IMAGE ?= localhost/mailwright-ee:test
ee: venv build
	CONTAINERS_CONF=$(CURDIR)/tools/ee/containers.conf tools/ee/base-image.sh
	CONTAINERS_CONF=$(CURDIR)/tools/ee/containers.conf $(BIN)/ansible-builder build \
	  -f tools/ee/execution-environment.yml -c .build/ee/context -t $(EE_IMAGE) --container-runtime podman \
	  --extra-build-cli-args "--network=host --runtime /usr/sbin/runc"

ee-context: venv build
	$(BIN)/ansible-builder create -f execution-environment.yml -c .build/ee/public

clean:
	rm -rf .build .venv .pytest_cache
