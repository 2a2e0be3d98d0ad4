#!/usr/bin/env bash
# Benchmarks under bench/; each writes bench/results/<name>.json.
# $1: the published fastreid binary (make bench passes it); benchmarks that drive the CLI use it.
set -euo pipefail
cd "$(dirname "$0")/.."
FASTREID="${1:-artifacts/fastreid/fastreid}"
mkdir -p bench/results
dotnet build bench/eval -c Release --nologo -v quiet
# Evaluation engine (issue 3): Market-scale evaluation vs the bare libtorch product, MSMT17 time and peak RSS, re-ranking.
bench/eval/bin/Release/net10.0/FastReid.Bench.Eval all bench/results/eval.json
