# The two commands: `make demo` and `make test`. Everything they need is installed
# here, from PyPI, into a git-ignored .venv; the Rust toolchain, Python 3, a C compiler and
# make are the only prerequisites (docs/getting-started/prerequisites.md), root is not one.

SHELL := /bin/bash
PYTHON ?= python3
VENV := $(CURDIR)/.venv
# cargo finds `cargo lambda` (cargo-lambda) and sam finds its tools on this PATH.
export PATH := $(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# sam's rust-cargolambda build method is a beta feature.
export SAM_CLI_BETA_RUST_CARGO_LAMBDA := 1
# MkDocs Material's banner about its successor, printed on every build.
export NO_MKDOCS_2_WARNING := 1
# Region for the offline template checks; nothing is deployed by `make test`.
export AWS_DEFAULT_REGION ?= us-east-1
# CI builds once: incremental compilation's caches would only take disk space there.
ifdef CI
export CARGO_INCREMENTAL := 0
endif
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)

# The tests' one debug build, linted as it compiles: clippy-driver is the workspace's rustc
# wrapper (what `cargo clippy` sets up), so the dependencies are compiled once, for the tests,
# not a second time for clippy's check build. Every target the tests build is linted (libraries
# with and without cfg(test), binaries, integration tests, examples), as `--all-targets` would.
# The soak runs the example this same build made, so nothing is compiled again for it.
CLIPPY_DRIVER := $(shell command -v clippy-driver)
CARGO_TEST := RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__ \
	cargo test --workspace --locked

.PHONY: help venv node-tools browser test test-build corpus lambda-binaries lint-template docs docs-reference docs-check pictures demo email-preview bench bench-eks bench-org bench-thumbnails bench-photos-api bench-tracing soak package clean

help:
	@echo "make demo     run every function for real against a local AWS emulator, with seeded data"
	@echo "make test     format, lint, unit and integration tests, template checks"
	@echo "make package  sam build: the deployable artifacts (ARCHITECTURE=arm64 for Graviton)"
	@echo "make bench    every benchmark (bench-eks, bench-org, bench-thumbnails, bench-photos-api, bench-tracing)"
	@echo "make soak     the functions under injected AWS faults (SOAK_SEEDS=1 SOAK_RATE=0.1 SOAK_BUDGET=ci|full)"
	@echo "make email-preview  the cost report's demo email rendered by headless Chromium to demo-output/cost-report-email.png"
	@echo "make docs     serve the docs site (docs/) on http://127.0.0.1:8000"
	@echo "make docs-reference  write the configuration reference and the functions' permissions from template.yaml"
	@echo "make pictures rebuild docs/images/ from the demo's output (needs Chromium)"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# The JPEG decoder's oracle test reads the benchmark's corpus of real photos (.bench/corpus,
# fetched once from Debian's archive by scripts/photos.py: no apt, no root); the HEIC tests read
# the fixtures scripts/heic_fixtures.py makes from it and from real phones' photos (.bench/heic).
# Every request a function makes in the tests is logged by the emulator (AWS_REQUEST_LOG), then
# checked against the function's role as the template grants it (scripts/check_least_privilege.py).
REQUEST_LOG := $(TARGET_DIR)/aws-requests.jsonl
SOAK_REQUEST_LOG := $(TARGET_DIR)/aws-requests-soak.jsonl

# Every step before the test run is a prerequisite, so `make -j3 test` (what .ci/run runs)
# overlaps them: the tests' debug build starts while pip fills the venv, the release build
# (cargo-lambda's) beside it, and the template and docs checks beside both. Cargo locks each
# profile's directory on its own, so the two builds share the target directory safely, and
# each fills the time the other spends in one-core steps (build scripts, links, fat LTO).
# A plain `make test` runs the same steps one after another.
test: venv test-build node-tools browser lambda-binaries corpus lint-template docs-check
	cargo fmt --all --check
	@# Every script parses, also those only `make bench-*` or `make demo` runs.
	$(VENV)/bin/python -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' $$(git ls-files 'scripts/*.py')
	$(VENV)/bin/python scripts/check_architecture.py --self-test
	rm -f $(REQUEST_LOG)
	AWS_REQUEST_LOG=$(REQUEST_LOG) JPEG_CORPUS=$(CURDIR)/.bench/corpus HEIC_FIXTURES=$(CURDIR)/.bench/heic $(CARGO_TEST)
	$(VENV)/bin/python scripts/check_least_privilege.py --log $(REQUEST_LOG) --self-test

# The tests' build alone (the test run above finds it done): it needs no venv.
test-build:
	@test -n "$(CLIPPY_DRIVER)" || { echo "clippy-driver is missing: rustup component add clippy"; exit 1; }
	$(CARGO_TEST) --no-run

# The least-privilege check's IAM evaluator, @cloud-copilot/iam-simulate, and the photos page's
# hosted sign-in (oidc-provider, tests/browser/sign-in/), at the versions their lock files pin,
# with the Node.js the venv holds.
node-tools: scripts/least-privilege/node_modules/.installed tests/browser/sign-in/node_modules/.installed
scripts/least-privilege/node_modules/.installed: scripts/least-privilege/package-lock.json $(VENV)/.installed
	cd scripts/least-privilege && npm ci --silent --no-audit --no-fund
	@touch $@
tests/browser/sign-in/node_modules/.installed: tests/browser/sign-in/package-lock.json $(VENV)/.installed
	cd tests/browser/sign-in && npm ci --silent --no-audit --no-fund
	@touch $@

# The functions built as `make package` builds them (cargo-lambda's release build, not
# cargo's: other profile settings, other CPU flags), for the tests that run the artifact.
# In one build: `sam build` builds each function on its own, so each resolves its own features
# of the shared dependencies (tokio's, the SDK's), and four builds compiled the SDK stack four
# times. One build unifies them; the code, the profile (unwinding, LTO) and the flags are the
# same, and `make package` still checks the artifacts sam builds.
lambda-binaries: venv
	cargo lambda build --release --locked --bin thumbnailer --bin eks-scheduler --bin cost-report --bin iam-export

corpus: venv
	$(VENV)/bin/python scripts/photos.py > /dev/null
	$(VENV)/bin/python scripts/heic_fixtures.py > /dev/null

# The photos page's browser test (and the demo's screenshot) drive Debian's Chromium through
# Debian's chromedriver, the same version: installed here when missing, as root (CI, dev
# machines); an ordinary user is told which packages to install.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "the photos page's browser test needs Debian's chromium and chromium-driver packages: sudo apt-get install chromium chromium-driver"; exit 1; \
		fi; }

lint-template: venv
	cfn-lint template.yaml member-role.yaml
	$(VENV)/bin/python scripts/check_template_alarms.py --self-test
	$(VENV)/bin/python scripts/check_template_rules.py
	$(VENV)/bin/python scripts/check_template_deploys.py --self-test
	sam validate --lint --template-file template.yaml

demo: venv browser
	$(VENV)/bin/python scripts/demo.py

# The docs site. The configuration reference and each function's permissions are written from
# template.yaml; the check fails when they are stale, then MkDocs fails on a broken link or
# anchor and on a page missing from the navigation (mkdocs.yml: strict, validation).
docs: venv
	$(VENV)/bin/mkdocs serve

docs-reference: venv
	$(VENV)/bin/python scripts/docs_reference.py

docs-check: venv
	$(VENV)/bin/python scripts/docs_reference.py --check
	$(VENV)/bin/mkdocs build --strict --quiet

# Every picture of the docs, from the demo's output: the cost report's e-mail and Slack message
# rendered by headless Chromium, the photos beside their thumbnails and placeholders, the traces.
pictures: venv browser
	$(VENV)/bin/python scripts/demo.py --only cost-report --only thumbnailer --only photos-app --only organization > /dev/null
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null
	$(VENV)/bin/python scripts/pictures.py

# Chromium comes from Debian's package, installed here when missing (needs root, as on CI and dev machines).
CHROMIUM_FLAGS := --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --hide-scrollbars
email-preview: venv
	$(VENV)/bin/python scripts/demo.py --only cost-report
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	chromium $(CHROMIUM_FLAGS) --user-data-dir=$$(mktemp -d) --window-size=760,1600 \
		--screenshot=$(CURDIR)/demo-output/cost-report-email.png file://$(CURDIR)/demo-output/cost-report-email.html 2>/dev/null
	@echo "The email as recipients see it: demo-output/cost-report-email.png"

bench: bench-eks bench-org bench-thumbnails bench-photos-api bench-tracing

# The thumbnail core against Pillow, pyvips and sharp on Debian's wallpaper photos, one core;
# then the packaged binary on SQS batches with S3 in the loop, sequential and concurrent.
# Installs what it needs (apt-get download of the photos, libvips42, pip and npm peers) under .bench/.
bench-thumbnails: venv
	$(VENV)/bin/python scripts/bench/thumbnails.py

# Stops and starts 30 clusters x 3 nodegroups against the emulator, concurrent and one at a time.
bench-eks: venv
	@$(PYTHON) scripts/bench/about.py
	cargo run --quiet --locked -p integration-tests --example bench-eks-scheduler

# 100 member accounts x 200 IAM users and x 2 EKS clusters, 30 ms a request: accounts one at a time and at once.
bench-org: venv
	@$(PYTHON) scripts/bench/about.py
	cargo run --quiet --locked -p integration-tests --example bench-org

# A gallery of 50 photos: the packaged photos-api's cold start and warm answer under the local
# Lambda (256 MB), and the AWS requests one page costs.
bench-photos-api: venv
	@$(PYTHON) scripts/bench/about.py
	cargo lambda build --release --locked --bin photos-api
	cargo run --quiet --locked -p integration-tests --example bench-photos-api

# X-Ray tracing on against off: the thumbnail core, a batch of the packaged thumbnailer with S3
# in the loop, and its cold start (docs/performance.md has the figures).
bench-tracing: venv
	$(VENV)/bin/python scripts/bench/tracing.py

# Every AWS call of the functions through a proxy that throttles, fails, resets and cuts
# responses short by a seeded schedule; exits non-zero on any lost or duplicated work.
# CI runs the short budget with fixed seeds; by hand: make soak SOAK_BUDGET=full SOAK_SEEDS=...
SOAK_SEEDS ?= 1
SOAK_RATE ?= 0.1
SOAK_BUDGET ?= ci
# The soak's requests, faults and retries included, are checked against the roles too.
soak: venv node-tools lambda-binaries
	@test -n "$(CLIPPY_DRIVER)" || { echo "clippy-driver is missing: rustup component add clippy"; exit 1; }
	$(CARGO_TEST) --no-run --quiet
	rm -f $(SOAK_REQUEST_LOG)
	AWS_REQUEST_LOG=$(SOAK_REQUEST_LOG) $(TARGET_DIR)/debug/examples/soak --seeds $(SOAK_SEEDS) --rate $(SOAK_RATE) --budget $(SOAK_BUDGET)
	$(VENV)/bin/python scripts/check_least_privilege.py --log $(SOAK_REQUEST_LOG)

# arm64 needs the aarch64-unknown-linux-gnu Rust target (rustup target add); cargo-lambda links with zig.
ARCHITECTURE ?= x86_64
# Then the artifacts sam built are checked as deployed: the packaged-binary tests
# (tests/*_lambda.rs: the four functions under the local Lambda's retries, deadlines and memory
# size, the thumbnailer's batch of fatal JPEGs, bombs and good photos among them) run on them.
package: venv
	sam build --template-file template.yaml --parameter-overrides Architecture=$(ARCHITECTURE)
	@if [ "$(ARCHITECTURE)" = x86_64 ]; then \
		THUMBNAILER_BOOTSTRAP=$(CURDIR)/.aws-sam/build/ThumbnailerFunction/bootstrap \
		EKS_SCHEDULER_BOOTSTRAP=$(CURDIR)/.aws-sam/build/EksSchedulerFunction/bootstrap \
		COST_REPORT_BOOTSTRAP=$(CURDIR)/.aws-sam/build/CostReportFunction/bootstrap \
		IAM_EXPORT_BOOTSTRAP=$(CURDIR)/.aws-sam/build/IamExportFunction/bootstrap \
		$(CARGO_TEST) --test integration -- _lambda::; \
	else echo "the packaged $(ARCHITECTURE) functions cannot run on this machine: not checked"; fi

clean:
	cargo clean
	rm -rf .aws-sam demo-output .site
