#!/usr/bin/env bash
# Training throughput of the CPU recipe at 1 process vs 2 data-parallel ranks (fastreid train --nproc-per-node 2)
# on this host's cores, same data, config and global batch, measured in one run; writes
# bench/results/distributed-training.json. img/s = epochs x iterations x global batch / train_seconds (the
# trainer's own clock: model build, training and the final evaluation; process start excluded).
# $1: the fastreid binary; $2: epochs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
FASTREID="${1:-artifacts/fastreid/fastreid}"
EPOCHS="${2:-3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$FASTREID" data synth --out "$work/data" --identities 120 --cameras 6 --seed 0 >/dev/null
recipe=trainer-image/configs/Synthetic/bagtricks_R18-cpu.yml
common=(SOLVER.MAX_EPOCH "$EPOCHS" TEST.EVAL_PERIOD 0 SOLVER.CHECKPOINT_PERIOD 0)
run() { # name, extra args...
  local name=$1; shift
  FASTREID_DATASETS="$work/data" "$FASTREID" train "$@" --config "$recipe" "${common[@]}" OUTPUT_DIR "$work/$name" >"$work/$name.log" 2>&1 \
    || { cat "$work/$name.log" >&2; exit 1; }
}
run one
run two --nproc-per-node 2
python3 - "$work" "$EPOCHS" "$(nproc)" <<'PY'
import json, re, sys, datetime
work, epochs, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def rate(name):
    m = json.load(open(f"{work}/{name}/metrics.json"))
    log = open(f"{work}/{name}.log").read()
    iters, batch = map(int, re.search(r"x (\d+) iterations, batch (\d+)", log).groups())
    return {"train_seconds": m["train_seconds"], "images": epochs * iters * batch,
            "images_per_second": round(epochs * iters * batch / m["train_seconds"], 1), "mAP": m["mAP"]}
one, two = rate("one"), rate("two")
out = {"benchmark": "data-parallel training throughput, CPU recipe (bagtricks_R18-cpu), 1 process vs 2 ranks on one host",
       "date": datetime.date.today().isoformat(), "cores": cores, "epochs": epochs,
       "one_process": one, "two_ranks": two,
       "ratio_two_over_one": round(two["images_per_second"] / one["images_per_second"], 3),
       "note": "2 ranks split the same cores (1 torch thread each); the ratio shows the cost of the collectives and of "
               "smaller per-rank batches, not a speed-up: on one host data parallelism pays off with one GPU per rank"}
json.dump(out, open("bench/results/distributed-training.json", "w"), indent=2)
print(json.dumps(out, indent=2))
PY
