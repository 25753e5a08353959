#!/usr/bin/env bash
# make demo-kube (scripts/demo-kube.sh): Kubernetes mode end to end on this machine, with plain kubectl.
# Starts mock-kube (the simulated API server) and the mock ARM (real time, 1 s operations), seeds
# the vault keys the examples name, applies crds/ and examples/ with kubectl, runs the operator
# (`run --kube`), then shows kubectl get / describe, a portal edit corrected, and a kubectl delete
# under `deletion: delete` with the finalizer released. Everything it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/debug/engram-operator}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
PATH="$PWD/target/tools/bin:$PATH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port); aport=$(free_port)
"$BIN" mock-kube --listen "127.0.0.1:$kport" --kubeconfig "$work/kubeconfig" >"$work/mock-kube.log" 2>&1 & pids+=($!)
"$BIN" mock-arm --listen "127.0.0.1:$aport" --real-time --lro-seconds 1 >"$work/mock-arm.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  [ -s "$work/kubeconfig" ] && grep -q "Key Vault on" "$work/mock-arm.log" && break
  sleep 0.1
done
arm="http://127.0.0.1:$aport"
kv=$(sed -n 's/.*--keyvault-endpoint \(http[^)]*\)).*/\1/p' "$work/mock-arm.log")
k() { kubectl --kubeconfig "$work/kubeconfig" --cache-dir "$work/cache" "$@"; }
say() { printf '\n== %s\n' "$*"; }

say "vault keys the examples name (an administrator's job), in the mock's Key Vault"
grep -h -A1 'keyVaultUri:' examples/*.yaml | awk '/keyVaultUri/ {split($2,a,"//"); split(a[2],b,"."); v=b[1]} /keyName/ {print v, $2}' | sort -u |
while read -r vault key; do
  curl -fsS -X POST -H "Host: $vault.vault.azure.net" -H "Authorization: Bearer mock-token" \
    -H 'Content-Type: application/json' -d '{"kty":"RSA"}' "$kv/keys/$key/create?api-version=7.4" >/dev/null
  echo "   $vault/$key"
done

say "kubectl apply -f crds/engramdataplane.yaml; kubectl create namespace engram; kubectl apply -f examples/"
k apply -f crds/engramdataplane.yaml
k create namespace engram
k apply -f examples/

say "engram-operator run --kube (against mock-kube and the mock ARM)"
KUBECONFIG="$work/kubeconfig" ENGRAM_ARM_ENDPOINT="$arm" ENGRAM_KEYVAULT_ENDPOINT="$kv" \
  ENGRAM_ARM_TOKEN=mock-token POD_NAMESPACE=engram RUST_LOG=${RUST_LOG:-warn} \
  "$BIN" run --kube --poll-seconds 0.5 >"$work/operator.log" 2>&1 & pids+=($!)
ready() { k get edp -n engram -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True || true; }
for _ in $(seq 240); do [ "$(ready)" = 4 ] && break; sleep 0.5; done

say "kubectl get edp -A"
k get edp -A
[ "$(ready)" = 4 ] || { echo "not every plane is Ready"; tail -20 "$work/operator.log"; exit 1; }

say "kubectl describe edp acme-prod -n engram (its Events)"
k describe edp acme-prod -n engram | sed -n '/^Events:/,$p'

say "portal edit: acme-prod-pg scaled down to Standard_D2s_v3 behind the operator's back"
server=/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-engram-prod/providers/Microsoft.DBforPostgreSQL/flexibleServers/acme-prod-pg
curl -fsS -X POST "$arm/_mock/edit" -H 'Content-Type: application/json' \
  -d "{\"id\":\"$server\",\"patch\":{\"sku\":{\"name\":\"Standard_D2s_v3\"}}}" >/dev/null
# The next resync finds it; make it due now by touching the object (an annotation).
k annotate edp acme-prod -n engram demo/poke="$(date +%s)" --overwrite >/dev/null
for _ in $(seq 120); do
  sku=$(curl -fsS -H "Authorization: Bearer mock-token" "$arm$server?api-version=2024-08-01" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sku"]["name"])')
  [ "$sku" = Standard_D4s_v3 ] && break; sleep 0.5
done
echo "   acme-prod-pg SKU in Azure now: $sku"
k get events -n engram --field-selector involvedObject.name=acme-prod -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message | grep -E 'REASON|Drift' || true

say "kubectl delete edp acme-dev under deletion: delete (the finalizer is released once Azure is clean)"
k patch edp acme-dev -n engram --type merge -p '{"spec":{"policy":{"deletion":"delete"}}}'
k delete edp acme-dev -n engram --timeout=90s || {
  k get edp acme-dev -n engram -o jsonpath='{.status.errors}{"\n"}{.status.notes}{"\n"}{.status.conditions}{"\n"}'
  tail -20 "$work/operator.log"; exit 1; }
k get edp -A

say "done: mock-kube journal"
curl -fsS "http://127.0.0.1:$kport/_mock/counts" | python3 -c 'import json,sys; c=json.load(sys.stdin); [print(f"   {k}: {v}") for k,v in sorted(c.items()) if "engramdataplanes" in k]'
