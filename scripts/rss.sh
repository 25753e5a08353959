#!/usr/bin/env bash
# The operator's own peak memory at N data planes (issue 17): the mock ARM runs in another process
# (real time, 1 s operations, its limits on), and `run --once` converges N dev planes under
# `/usr/bin/time -v`. Prints the peak RSS and the wall time.
#   scripts/rss.sh [N] ; SUBS=1 scripts/rss.sh 100 puts every plane in one subscription.
# BIN defaults to the release build (cargo build --release first).
set -euo pipefail
N=${1:-1000}
SUBS=${SUBS:-$N}
BIN=${BIN:-target/release/engram-operator}
PORT=${PORT:-18931}
CONCURRENCY=${CONCURRENCY:-16}
work=$(mktemp -d)
mock=""
cleanup() { [ -n "$mock" ] && kill "$mock" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" mock-arm --listen "127.0.0.1:$PORT" --real-time --lro-seconds 1 >"$work/mock.log" 2>&1 &
mock=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
# A port still held by an earlier run would send every request to the wrong process.
kill -0 "$mock" 2>/dev/null || { cat "$work/mock.log" >&2; exit 1; }

mkdir "$work/specs"
for i in $(seq 0 $((N - 1))); do
  sub=$(printf '00000000-0000-4000-8000-%012x' $((i % SUBS)))
  sed -e "s/acme-dev/p$i-dev/g" -e "s/acmeengramdev/p${i}engram/" \
      -e "s/00000000-0000-0000-0000-000000000001/$sub/" -e "s/state: Stopped/state: Running/" \
      examples/dev.yaml >"$work/specs/p$i.yaml"
done

set +e
ENGRAM_ARM_TOKEN=mock-token RUST_LOG=warn /usr/bin/time -v "$BIN" run --once \
  --specs "$work/specs" --arm-endpoint "http://127.0.0.1:$PORT" --concurrency "$CONCURRENCY" \
  >/dev/null 2>"$work/time.log"
code=$?
set -e
echo "planes=$N subscriptions=$SUBS exit=$code"
grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$work/time.log"
