#!/usr/bin/env bash
# Operator at scale (issue 16): 500 ReidExperiments in one `kubectl apply -f` against the published emulator with the
# published operator running (experiment -> Job latency from a client-side watch, operator peak RSS), the same
# experiments as a backlog for a freshly started operator (its own rate), and the same ConfigMaps, Services and Jobs
# created by a plain client in the same emulator (the emulator's own rate). Writes bench/results/operator.json.
#   bench/operator.sh [COUNT]   (needs `make build`: artifacts/kube-emulator, artifacts/operator; and kubectl)
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-500}"
for bin in artifacts/kube-emulator/kube-emulator artifacts/operator/fastreid-operator; do
  [[ -x "$bin" ]] || { echo "bench/operator.sh: $bin is missing: run make build" >&2; exit 2; }
done
command -v kubectl >/dev/null || { echo "bench/operator.sh: kubectl is required" >&2; exit 2; }
mkdir -p bench/results
dotnet build bench/operator -c Release --nologo -v quiet
bench/operator/bin/Release/net10.0/FastReid.Bench.Operator --emulator artifacts/kube-emulator/kube-emulator \
  --operator artifacts/operator/fastreid-operator --repo . --count "$COUNT" --out bench/results/operator.json
