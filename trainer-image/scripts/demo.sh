#!/usr/bin/env bash
# make demo: examples/demo-pipeline.yaml run by `fastreid pipeline run` on this machine (the operator's planners,
# local processes for its pods): teacher -> student alone and distilled -> a small sweep -> ONNX export -> report,
# then a summary table. Rerunning continues where the last run stopped (finished work is kept).
set -euo pipefail
fastreid=${1:?usage: demo.sh FASTREID STATE_DIR}
state=${2:?}
manifest=examples/demo-pipeline.yaml
start=$(date +%s)

if [ -d "$state/objects" ]; then
  echo "== continuing the pipeline in $state (finished work is kept; rm -rf $state to start over)"
else
  echo "== fastreid pipeline run -f $manifest --state $state"
fi
echo "   (each line: a phase change, an event the planners record, a pod, or a trainer's progress every 15 s)"
rc=0
"$fastreid" pipeline run -f "$manifest" --state "$state" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "demo: the pipeline ended with exit code $rc; pod logs are under $state/pods/" >&2
  exit "$rc"
fi

# The summary, read from `fastreid pipeline status` (what kubectl get shows): mAP and rank-1 by experiment.
status=$("$fastreid" pipeline status --state "$state")
row() { # KIND NAME COLUMN: the value of COLUMN in the row NAME of the KIND table
  awk -v kind="$1" -v name="$2" -v col="$3" '
    /^NAME \(/ { inkind = ($0 ~ "^NAME \\(" kind "\\)"); for (i = 1; i <= NF; i++) if ($i == col) c = i - 1; next }
    inkind && $1 == name { print $c; exit }' <<<"$status"
}
pct() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else printf "%.2f", 100 * v }'; }
gain() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%+.2f", 100 * (a - b) }'; }
t_map=$(row ReidExperiment demo-teacher MAP); t_r1=$(row ReidExperiment demo-teacher RANK-1)
s_map=$(row ReidExperiment demo-student-alone MAP); s_r1=$(row ReidExperiment demo-student-alone RANK-1)
k_map=$(row ReidExperiment demo-kd-student MAP); k_r1=$(row ReidExperiment demo-kd-student RANK-1)
best=$(row TuneSweep demo-sweep BEST)
err=$(row ExportJob demo-student-onnx MAXRELERROR)

echo
echo "== summary (test set of the synthetic Market-1501-layout data)"
printf "  %-44s %8s %8s\n" "model" "mAP %" "rank-1 %"
printf "  %-44s %8s %8s\n" "teacher: ResNet-18 x0.5 (demo-teacher)" "$(pct "$t_map")" "$(pct "$t_r1")"
printf "  %-44s %8s %8s\n" "student alone: ResNet-18 x0.25" "$(pct "$s_map")" "$(pct "$s_r1")"
printf "  %-44s %8s %8s\n" "student + KD from the teacher (demo-kd)" "$(pct "$k_map")" "$(pct "$k_r1")"
printf "  %-44s %8s %8s\n" "KD gain (points, vs the student alone)" "$(gain "$k_map" "$s_map")" "$(gain "$k_r1" "$s_r1")"
echo "  sweep demo-sweep: best validation score ${best:--} (4 trials; its test experiment is in the table above)"
echo "  ONNX export of the distilled student: max relative error ${err:--} against the original (onnxruntime)"
report="$state/report/report.html"
if [ -f "$report" ]; then echo "  report: $report"; fi
echo "demo finished in $(( $(date +%s) - start )) s; state, outputs and pod logs in $state"
