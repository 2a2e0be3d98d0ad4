#!/usr/bin/env bash
# The NCCL path's check on a machine with an NVIDIA GPU (issue 12). No test here can run it: this script is
# how the nccl backend gets verified. It
#   1. checks what it needs: an NVIDIA driver (nvidia-smi, libcuda.so.1), a .NET 10 SDK (installed with
#      dotnet-install.sh into ~/.dotnet when absent and the internet is reachable), TorchSharp-cuda-linux
#      from a NuGet feed (nuget.org by default; the build's restore says when it is not reachable);
#   2. builds the CUDA trainer (-p:TorchCuda=true, as trainer-image/Dockerfile does with TORCH_CUDA=true);
#   3. runs `fastreid bench collectives --backend nccl --check`: NCCL all-reduce (sum and mean), broadcast and
#      uneven all-gather against the tcp backend on the same inputs, at world size 1 (the identity) and, with
#      two or more GPUs, across one process per GPU; plus all-reduce bandwidth for 1, 10 and 100 MB;
#   4. runs one CUDA training epoch of the small synthetic recipe (MODEL.DEVICE cuda, SOLVER.MAX_EPOCH 1).
# Results: bench/results/nccl.json. Exit 0 only when every step passed. Budget: under 8 minutes on a
# 16-core H200 machine, most of it the first restore of the CUDA packages (about 2.5 GB).
#
# Settings (environment):
#   FASTREID_CUDA_BIN      a published CUDA trainer folder to use instead of building one
#   FASTREID_NCCL_LIBRARY  libnccl.so.2 to load, when it is not on the loader's path
#   DOTNET                 the dotnet to build with (default: dotnet on PATH, then ~/.dotnet/dotnet)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
out_json="$repo/bench/results/nccl.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
budget=470 # seconds: the whole check must end within 8 minutes
left() { echo $(( budget - ($(date +%s) - started) )); }

say() { printf '[nccl-check %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }
# before a GPU is found nothing is written, so a run on the wrong machine leaves an earlier result alone
fail() { say "FAILED: $*"; if [ -n "${gpu_names:-}" ]; then write_result "failed" "$*"; fi; exit 1; }

steps=()   # JSON objects, one per step
record() { steps+=("{\"step\": \"$1\", \"status\": \"$2\", \"detail\": $(json_string "$3"), \"seconds\": $(( $(date +%s) - step_started ))}"); }
json_string() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/ }; s=${s//$'\t'/ }; printf '"%s"' "$s"; }

write_result() {
  mkdir -p "$(dirname "$out_json")"
  {
    printf '{\n  "benchmark": "nccl-check",\n  "status": "%s",\n  "message": %s,\n' "$1" "$(json_string "$2")"
    printf '  "date": "%s",\n  "host_cores": %s,\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)"
    printf '  "gpus": %s,\n' "$(json_string "${gpu_names:-none}")"
    printf '  "steps": [%s],\n' "$(IFS=,; echo "${steps[*]:-}")"
    printf '  "collectives": %s,\n' "$(cat "$work/bench.json" 2>/dev/null || echo null)"
    printf '  "train_step": %s\n}\n' "$(cat "$work/train/result.json" 2>/dev/null || echo null)"
  } > "$out_json"
  say "wrote $out_json"
}

# 1. what the machine has
step_started=$(date +%s)
command -v nvidia-smi >/dev/null || fail "nvidia-smi is not on PATH: this script needs a machine with an NVIDIA GPU and its driver"
names=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader) || fail "nvidia-smi cannot talk to the driver"
gpus=$(printf '%s\n' "$names" | grep -c .) || true
[ "$gpus" -ge 1 ] || fail "nvidia-smi lists no GPU"
gpu_names=$names
ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1' || [ -e /usr/lib/x86_64-linux-gnu/libcuda.so.1 ] \
  || fail "libcuda.so.1 (the driver's CUDA library) is not on the loader's path"
say "GPUs ($gpus): $gpu_names"
record preflight ok "$gpus GPU(s): $gpu_names"

# 2. the CUDA trainer
step_started=$(date +%s)
if [ -n "${FASTREID_CUDA_BIN:-}" ]; then
  bin="$FASTREID_CUDA_BIN"
  [ -x "$bin/fastreid" ] || fail "FASTREID_CUDA_BIN=$bin holds no fastreid executable"
  record build ok "prebuilt trainer at $bin"
else
  dotnet=${DOTNET:-}
  if [ -z "$dotnet" ]; then
    if command -v dotnet >/dev/null && dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then dotnet=dotnet
    elif [ -x "$HOME/.dotnet/dotnet" ] && "$HOME/.dotnet/dotnet" --list-sdks | grep -q '^10\.'; then dotnet="$HOME/.dotnet/dotnet"
    else
      say "no .NET 10 SDK: installing one with dotnet-install.sh into ~/.dotnet"
      command -v curl >/dev/null || fail "no .NET 10 SDK and no curl to fetch dotnet-install.sh; install the SDK (https://dot.net) or set DOTNET"
      curl -fsSL --max-time 60 https://dot.net/v1/dotnet-install.sh -o "$work/dotnet-install.sh" \
        || fail "no .NET 10 SDK, and https://dot.net is not reachable to install one; install it or set DOTNET"
      bash "$work/dotnet-install.sh" --channel 10.0 --install-dir "$HOME/.dotnet" >"$work/dotnet-install.log" 2>&1 \
        || fail "dotnet-install.sh failed: $(tail -3 "$work/dotnet-install.log")"
      dotnet="$HOME/.dotnet/dotnet"
    fi
  fi
  export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
  bin="$work/fastreid-cuda"
  say "building the CUDA trainer ($("$dotnet" --version)); the first restore fetches TorchSharp-cuda-linux (~2.5 GB)"
  build_limit=$(( $(left) - 170 )) # keep time for the check and the training epoch
  [ "$build_limit" -gt 30 ] || fail "no time left to build within the 8-minute budget"
  if ! timeout "$build_limit" "$dotnet" publish trainer-image/src/FastReid.Cli -c Release -r linux-x64 --self-contained false \
      -p:TorchCuda=true -o "$bin" --nologo -v quiet >"$work/build.log" 2>&1; then
    grep -E 'error|NU1101|NU1301' "$work/build.log" | head -5 || true
    fail "the CUDA build failed (TorchSharp-cuda-linux 0.107.0 must come from nuget.org or a feed in NuGet.Config): $(grep -m1 -E 'error' "$work/build.log" || tail -1 "$work/build.log")"
  fi
  record build ok "dotnet publish -p:TorchCuda=true"
fi

# NCCL: the trainer's folder, the loader's path, CUDA's folders, pip's nvidia-nccl
if [ -z "${FASTREID_NCCL_LIBRARY:-}" ] && [ ! -e "$bin/libnccl.so.2" ] && ! ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2'; then
  for candidate in "$bin"/runtimes/linux-x64/native/libnccl.so.2 /usr/local/cuda/lib64/libnccl.so.2 /usr/lib/x86_64-linux-gnu/libnccl.so.2 \
      /usr/local/lib/python3*/dist-packages/nvidia/nccl/lib/libnccl.so.2 /usr/lib/python3/dist-packages/nvidia/nccl/lib/libnccl.so.2 \
      "$HOME"/.local/lib/python3*/site-packages/nvidia/nccl/lib/libnccl.so.2; do
    if [ -e "$candidate" ]; then export FASTREID_NCCL_LIBRARY="$candidate"; break; fi
  done
fi
say "NCCL: ${FASTREID_NCCL_LIBRARY:-libnccl.so.2 from the loader path}"

# 3. NCCL against tcp, and bandwidth
step_started=$(date +%s)
say "NCCL check and bandwidth (world size 1$([ "$gpus" -ge 2 ] && echo " and $gpus"))"
if timeout 90 "$bin/fastreid" bench collectives --backend nccl --check --sizes 1,10,100 --reps 10 \
    --out "$work/bench.json" >"$work/bench.log" 2>&1; then bench_status=ok; else bench_status=failed; fi
cat "$work/bench.log"
record nccl-collectives "$bench_status" "$(tail -4 "$work/bench.log")"

# 4. one CUDA training epoch
step_started=$(date +%s)
say "one CUDA training epoch of the synthetic recipe"
"$bin/fastreid" data synth --out "$work/data" --identities 40 --cameras 4 --seed 0 >/dev/null
train_limit=$(( $(left) - 5 ))
[ "$train_limit" -gt 20 ] || train_limit=20
if FASTREID_DATASETS="$work/data" timeout "$train_limit" "$bin/fastreid" train \
    --config trainer-image/configs/Synthetic/bagtricks_R18-cpu.yml \
    MODEL.DEVICE cuda SOLVER.MAX_EPOCH 1 TEST.EVAL_PERIOD 1 OUTPUT_DIR "$work/train" >"$work/train.log" 2>&1
then train_status=ok; else train_status=failed; fi
tail -5 "$work/train.log"
# the trainer falls back to the CPU with a warning when it sees no GPU: that is a failure here
if grep -q 'no CUDA device is visible' "$work/train.log"; then train_status=failed; fi
[ -s "$work/train/result.json" ] || train_status=failed
record cuda-train-step "$train_status" "$(tail -3 "$work/train.log")"

if [ "$bench_status" = ok ] && [ "$train_status" = ok ]; then
  write_result passed "NCCL matched the tcp backend and a CUDA training epoch ran"
  say "passed"
else
  write_result failed "nccl-collectives: $bench_status, cuda-train-step: $train_status (see steps)"
  say "FAILED: nccl-collectives $bench_status, cuda-train-step $train_status; logs above and in $out_json"
  exit 1
fi
