#!/usr/bin/env bash
# Training step vs PyTorch (issue 16): `fastreid bench train --premade-only` against its PyTorch twin
# (bench/pytorch/train_step.py on Debian's python3-torch with OpenBLAS), same model, batch, input, classes and
# thread count, in alternating processes (ours, PyTorch, ours, ...). Each side's rate is the median of its rounds;
# ratio = ours / PyTorch (goal >= 1.0). The last round's seconds per step in forward (ours: with the losses), loss,
# backward and optimizer are kept as the profile. Writes bench/results/train-vs-pytorch.json.
# usage: [CASES="R18 R50-batch32"] bench/train-vs-pytorch.sh [FASTREID] [ROUNDS]
# CASES runs only the named cases and keeps the other cases' entries of an earlier run (each entry has its own rounds
# and load average).
set -euo pipefail
cd "$(dirname "$0")/.."
FASTREID="${1:-artifacts/fastreid/fastreid}"
ROUNDS="${2:-3}"
PY=/usr/bin/python3
OUT=bench/results/train-vs-pytorch.json
THREADS=2
if ! "$PY" -c "import torch, torchvision" 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  apt-get install -y -q python3-torch python3-torchvision libopenblas0-pthread >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$FASTREID" data synth --out "$work/data" --identities 120 --cameras 6 --seed 0 >/dev/null
CPU=trainer-image/configs/Synthetic/bagtricks_R18-cpu.yml

# name | depth | width multiplier | batch | steps per round | our config overrides
cases=(
  "R18-half|18|0.5|64|3|"
  "R18|18|1.0|64|2|MODEL.BACKBONE.WIDTH_MULT 1.0 MODEL.BACKBONE.FEAT_DIM 512"
  "R50-batch32|50|1.0|32|1|MODEL.BACKBONE.DEPTH 50x MODEL.BACKBONE.WIDTH_MULT 1.0 MODEL.BACKBONE.FEAT_DIM 2048 SOLVER.IMS_PER_BATCH 32"
)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
write_results() {
  "$PY" - "$OUT" "$THREADS" "$("$PY" -c 'import torch; print(torch.__version__)')" "${entries[@]}" <<'EOF'
import datetime, json, os, sys
out, threads, torch_version, *entries = sys.argv[1:]
cases = [json.loads(e) for e in entries]
if os.environ.get("CASES") and os.path.exists(out):  # keep the cases this run did not measure
    names = {c["model"] for c in cases}
    cases = [c for c in json.load(open(out))["cases"] if c["model"] not in names] + cases
result = {
    "benchmark": "train-step-vs-pytorch",
    "command": "bash bench/train-vs-pytorch.sh",
    "recipe": "bagtricks_R18-cpu: BNNeck, CE+LS 0.1 + batch-hard triplet 0.3, Adam, 128x64 input, pre-made batch",
    "pytorch": f"{torch_version} (Debian python3-torch, libopenblas0-pthread)",
    "threads": int(threads),
    "rate": "median of the rounds, each side in its own process, alternating",
    "goal": "ratio = ours / PyTorch >= 1.0",
    "cases": cases,
    "machine": f"{os.cpu_count()} cores",
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    f.write(json.dumps(result, indent=2) + "\n")
os.replace(tmp, out)
print(f"wrote {out}")
EOF
}
entries=()
for c in "${cases[@]}"; do
  IFS='|' read -r name depth width batch steps overrides <<<"$c"
  if [ -n "${CASES:-}" ] && [[ " $CASES " != *" $name "* ]]; then continue; fi
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  ours=() theirs=() classes=""
  for r in $(seq 1 "$ROUNDS"); do
    # shellcheck disable=SC2086 # the overrides are KEY VALUE words
    OMP_NUM_THREADS=$THREADS FASTREID_DATASETS="$work/data" "$FASTREID" bench train --config "$CPU" --premade-only \
      --warmup 1 --steps "$steps" --rounds 1 --out "$work/ours.json" $overrides >/dev/null
    ours+=("$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["premade_steps_per_s"])' "$work/ours.json")")
    classes=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["classes"])' "$work/ours.json")
    OMP_NUM_THREADS=$THREADS "$PY" bench/pytorch/train_step.py --depth "$depth" --width "$width" --batch "$batch" \
      --height 128 --width-px 64 --classes "$classes" --threads "$THREADS" --warmup 1 --steps "$steps" --profile >"$work/theirs.json"
    theirs+=("$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps_per_s"])' "$work/theirs.json")")
    echo "$name round $r/$ROUNDS: ours ${ours[-1]} steps/s, PyTorch ${theirs[-1]} steps/s"
  done
  o=$(median "${ours[@]}") t=$(median "${theirs[@]}")
  entries+=("$("$PY" - "$name" "$depth" "$width" "$batch" "$classes" "$steps" "$o" "$t" "${ours[*]}" "${theirs[*]}" "$work/ours.json" "$work/theirs.json" "$ROUNDS" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import json, sys
name, depth, width, batch, classes, steps, o, t, ours, theirs, ours_json, theirs_json, rounds, load_before, load_after = sys.argv[1:]
ours_profile = json.load(open(ours_json))["premade_seconds_per_step"]
theirs_profile = json.load(open(theirs_json))["seconds_per_step"]
print(json.dumps({"model": name, "depth": int(depth), "width_mult": float(width), "batch": int(batch), "classes": int(classes),
                  "rounds": int(rounds), "steps_per_round": int(steps), "ours_steps_per_s": float(o), "pytorch_steps_per_s": float(t),
                  "ratio": round(float(o) / float(t), 4), "ours_rounds": [float(v) for v in ours.split()],
                  "pytorch_rounds": [float(v) for v in theirs.split()],
                  "profile_last_round_seconds_per_step": {"ours": ours_profile, "pytorch": theirs_profile},
                  "load_average": {"before": load_before, "after": load_after}}))
EOF
)")
  echo "$name: ours $o steps/s, PyTorch $t steps/s"
  write_results # after each case, so that a run cut short keeps the cases it finished
done
