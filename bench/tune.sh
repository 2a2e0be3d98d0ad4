#!/usr/bin/env bash
# Search algorithms (issue 14): random, tpe, hyperband, bohb, asha, dehb and median stopping on Branin and Hartmann-6
# with a fidelity dimension (bias and noise that vanish at the largest budget), each sweep driven in-process
# through SweepSearch.Decide as the operator and `fastreid tune` drive it, parallelism 1, 20 seeds.
# Reports the budget to 1 % (and 0.1 %) normalised regret and the regret at equal budgets; writes
# bench/results/tune.json. Goal: tpe, bohb and dehb need at most 1/3 of random's budget; asha and hyperband beat
# random at equal budgets. $1: the fastreid binary; $2: seeds (default 20). A few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
FASTREID="${1:-artifacts/fastreid/fastreid}"
mkdir -p bench/results
"$FASTREID" bench tune --seeds "${2:-20}" --parallelism 1 --out bench/results/tune.json
