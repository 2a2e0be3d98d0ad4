#!/usr/bin/env bash
# make demo-quick: one model, no pipeline: synthetic Market-1501-layout data -> train the CPU recipe -> evaluate -> metrics table
# -> ONNX export (verified against onnxruntime) -> the exported model evaluated on the same data.
set -euo pipefail
fastreid=${1:?usage: demo-quick.sh FASTREID DATA_DIR OUTPUT_DIR}
data=${2:?}
out=${3:?}
config=trainer-image/configs/Synthetic/bagtricks_R18-cpu.yml
start=$(date +%s)

echo "== 1/4 synthetic dataset (120 identities, 6 cameras) in $data"
"$fastreid" data synth --out "$data" --identities 120 --cameras 6 --seed 0

echo
echo "== 2/4 training $config"
rm -rf "$out"
FASTREID_DATASETS="$data" "$fastreid" train --config "$config" OUTPUT_DIR "$out"

echo
echo "== 3/4 standalone evaluation: embed query and gallery with model_final.pth, then fastreid evaluate"
market="$data/Market-1501-v15.09.15"
"$fastreid" embed --config "$out/config.yaml" --images "$market/query" --out "$out/query.npz" MODEL.WEIGHTS "$out/model_final.pth"
"$fastreid" embed --config "$out/config.yaml" --images "$market/bounding_box_test" --out "$out/gallery.npz" MODEL.WEIGHTS "$out/model_final.pth"
"$fastreid" evaluate --query "$out/query.npz" --gallery "$out/gallery.npz"
echo "(the gallery folder also holds -1 junk images, which the Market-1501 reader drops; here they count as non-matches)"

echo
echo "== 4/4 ONNX export, verified against onnxruntime, then evaluated on the test set (onnxruntime instead of TorchSharp)"
"$fastreid" export --config "$out/config.yaml" --output "$out/export" --images "$market/query" MODEL.WEIGHTS "$out/model_final.pth"
FASTREID_DATASETS="$data" "$fastreid" evaluate --config "$out/config.yaml" --onnx "$out/export/model.onnx"

echo
echo "demo finished in $(( $(date +%s) - start )) s. Artefacts in $out:"
find "$out" -maxdepth 2 -type f -printf "  %-22P %10s bytes\n" | sort
