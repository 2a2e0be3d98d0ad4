#!/usr/bin/env bash
# Benchmarks under bench/; each writes bench/results/<name>.json.
# $1: the published fastreid binary (make bench passes it); benchmarks that drive the CLI use it.
set -euo pipefail
cd "$(dirname "$0")/.."
FASTREID="${1:-artifacts/fastreid/fastreid}"
mkdir -p bench/results
dotnet build bench/eval -c Release --nologo -v quiet
# Evaluation engine (issues 3, 16): Market and MSMT17-scale evaluation and Market re-ranking vs the best distance
# product on this machine (numpy over Debian's OpenBLAS, libtorch, the evaluator's own), interleaved in one run;
# peak RSS. numpy and OpenBLAS are the comparison's (and the evaluator's faster product): installed here, never by make test.
if ! dpkg -s python3-numpy libopenblas0-pthread >/dev/null 2>&1; then
  apt-get install -y -q python3-numpy libopenblas0-pthread >/dev/null || echo "bench: no numpy/OpenBLAS; eval.json compares with libtorch only" >&2
fi
bench/eval/bin/Release/net10.0/FastReid.Bench.Eval all bench/results/eval.json

# Trainer input pipeline (issue 2): training steps/s fed by the real pipeline vs one pre-made batch, same run.
data=$(mktemp -d)
trap 'rm -rf "$data" bench/results/export.json.tmp' EXIT
"$FASTREID" data synth --out "$data" --identities 120 --cameras 6 --seed 0 >/dev/null
FASTREID_DATASETS="$data" "$FASTREID" bench train --config trainer-image/configs/Synthetic/bagtricks_R18-cpu.yml \
  --steps 10 --rounds 3 --out bench/results/train.json

# Training step vs PyTorch (issue 16): our pre-made step vs its PyTorch twin (Debian's python3-torch, installed with
# apt if missing) for the CPU recipe, full-width R18 and R50 (batch 32), alternating processes, median of 3 rounds.
bash bench/train-vs-pytorch.sh "$FASTREID" 3

# ONNX export (issue 7): onnxruntime CPU latency vs TorchSharp eager for the full-width bagtricks R18 and R50
# at 256x128, batch 1 and 32, both runtimes interleaved in one process per model (random weights).
# Into a fresh file, so that no entry of an earlier run survives.
R50=trainer-image/configs/Market1501/bagtricks_R50.yml
rm -f bench/results/export.json.tmp
"$FASTREID" bench export --config "$R50" --name R18 --batches 1,32 --reps 40,10 --out bench/results/export.json.tmp \
  MODEL.BACKBONE.DEPTH 18x MODEL.BACKBONE.FEAT_DIM 512
"$FASTREID" bench export --config "$R50" --name R50 --batches 1,32 --reps 30,6 --out bench/results/export.json.tmp
mv bench/results/export.json.tmp bench/results/export.json

# Collectives (issue 12): tcp ring all-reduce bus bandwidth at 1, 10 and 100 MB on 2 and 4 ranks (child processes
# of the binary) vs one loopback TCP stream measured in the same run; goal >= 0.70 of the stream per case.
"$FASTREID" bench collectives --sizes 1,10,100 --worlds 2,4 --reps 10 --out bench/results/distributed.json
# The NCCL path needs a GPU machine: bench/gpu/nccl-check.sh (writes bench/results/nccl.json).

# Operator at scale (issue 16): 500 ReidExperiments in one kubectl apply against the emulator: experiment -> Job
# latency, operator peak RSS, the operator's rate vs a plain client creating the same children (needs make build).
bash bench/operator.sh 500

# Data-parallel training (issue 12): CPU recipe throughput at 1 process vs 2 ranks on this host.
bash bench/distributed-training.sh "$FASTREID" 3

# Search algorithms (issue 14): budget to 1 % regret on Branin / Hartmann-6 with a fidelity, 20 seeds (in-process).
bash bench/tune.sh "$FASTREID"

# A real sweep (issue 14): examples/tune-synthetic.yaml against the template's own values, validation and test (~15 min).
bash bench/tune-synthetic.sh "$FASTREID"

# Knowledge distillation (issue 13): teacher, then a student alone / + KD / + KD + overhaul over 3 seeds (~45 min).
bash bench/distill.sh "$FASTREID"
