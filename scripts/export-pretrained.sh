#!/usr/bin/env bash
# Exports a training run into models/pretrained/NAME/ with a model card: the graphs, the
# spec, test bits/dim from `trainer eval` (burn) and from Python ONNX Runtime on the whole
# test set, a sample grid, the exact training command, and the run itself (config, metrics,
# latest checkpoint) under NAME/run/ so training can be resumed:
#   mkdir -p runs && cp -r models/pretrained/NAME/run runs/NAME
#   trainer fit --config runs/NAME/config.yaml --out runs/NAME --resume
#   scripts/export-pretrained.sh RUN_DIR NAME "HOW IT WAS TRAINED (markdown)" [EVAL_LIMIT] [SAMPLE_ARGS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"; cd "$root"
bin="${CARGO_TARGET_DIR:-$root/target}/debug"
run="$1"; name="$2"; command="$3"; limit="${4:-1000}"; sample_args="${5:-}"
out="models/pretrained/$name"
py="$(scripts/setup-python.sh)"
rm -rf "$out"; mkdir -p "$out/run/checkpoints"
latest="$(ls -d "$run"/checkpoints/step-* | sort -t- -k2 -n | tail -n1)"
cp -r "$latest" "$out/run/checkpoints/"
cp "$run/config.yaml" "$out/run/"
for f in metrics.jsonl epochs.jsonl training-curves.png; do [ -f "$run/$f" ] && cp "$run/$f" "$out/run/"; done
[ -f "$run/training-curves.png" ] && cp "$run/training-curves.png" "$out/"
"$bin"/exporter --to onnx --run "$run" --out "$out" > "$out/.export.json"
state="$latest/state.json"
steps=$(python3 -c "import json;print(json.load(open('$state'))['step'])")
secs=$(python3 -c "import json;print(round(json.load(open('$state'))['train_seconds']))")
batch=$(python3 -c "import json;print(json.load(open('$state'))['batch_size'])")
# the plain PixelCNN has no step graphs: it samples with model.onnx, one pass per sub-pixel
mode=cached; [ -f "$out/step_row.onnx" ] || mode=naive
files="\`model.onnx\` (scoring, naive sampling), \`README.md\` (interface)"
[ "$mode" = cached ] && files="\`model.onnx\` (scoring, naive sampling), \`step_row.onnx\` + \`step_pixel.onnx\` (cached
  sampling), \`README.md\` (interface)"
[ -f "$out/encoder.onnx" ] && files="$files, \`encoder.onnx\` (the encoder: image to code h)"
# graphs over the exporter's largest file keep their weights beside them (ONNX external data)
data="$(cd "$out" && ls -- *.onnx.data-* 2>/dev/null | sed 's/.*/`&`/' | paste -sd, - | sed 's/,/, /g')"
[ -n "$data" ] && files="$files, $data (the weights of the graphs over 4 MiB, ONNX external data: keep them beside the graphs)"
eval_json="$("$bin"/trainer eval --run "$run" --limit "$limit")"
dataset=$(sed -n 's/^  path: //p' "$run/config.yaml" | head -n1)
full_json=""
score_cmd="scripts/check_onnx.py $out --score $(echo "$dataset"/t10k-images-idx3-ubyte*) --labels $(echo "$dataset"/t10k-labels-idx1-ubyte*)"
# unconditional and class-conditional models (given the true labels); vector-conditioned ones have no test vectors here
full_json="$("$py" $score_cmd 2>&1)" || full_json=""
if [ -f "$out/encoder.onnx" ]; then
  # the auto-encoder: reconstructions of test images, judged by the digit classifier
  pictures="\`reconstructions.png\` (odd rows: MNIST test images 0-49; even rows: one sample of the decoder given each image's code) from \`scripts/check-reconstructions.sh $out 100 $out/reconstructions.png\`, which also prints the classifier's verdict: \`$(scripts/check-reconstructions.sh "$out" 100 "$out/reconstructions.png")\`"
else
  "$bin"/sample --model "$out" --backend tract --mode $mode --n 36 --seed 1 --scale 4 $sample_args --out "$out/samples.png" > "$out/.sample.json"
  pictures="\`samples.png\` from \`sample --model $out --backend tract --mode $mode --n 36 --seed 1 --scale 4 $sample_args\`"
fi
rm -f "$out/.export.json" "$out/.sample.json"
converged="Not converged."
case "$dataset" in
  *fashion*) ;;  # Fashion-MNIST's path contains "mnist" too
  *mnist*) converged="$converged The best published Gated PixelCNN on 8-bit MNIST reaches ~0.81 bits/dim." ;;
esac
spec="$(python3 -c "import json;print(json.dumps(json.load(open('$latest/spec.json'))))")"
weights="the optimizer's weights at that step"
ema="$(sed -n 's/^ema_decay: //p' "$run/config.yaml")"
ema_file=""
# (a checkpoint stores a file over 4 MiB as numbered parts: ema-weights-v3.bin.part-000, ...)
if [ -f "$latest/ema-weights-v3.bin" ] || [ -f "$latest/ema-weights-v3.bin.part-000" ]; then
  weights="the moving average of the weights (\`ema_decay: $ema\`, \`ema-weights-v3.bin\`), which scores, samples and graphs below use"
  ema_file=", the weights' moving average"
fi
resume_note=""
# a run that ends by schedule: say which keys of the copied config to remove to train on
stops=""; how=""
if grep -q '^  cooldown:' "$run/config.yaml"; then
  stops="\`optimizer.cooldown\`"; how=", with a cool-down of its learning rate to zero"
fi
if grep -q '^max_steps: [0-9]' "$run/config.yaml"; then
  stops="${stops:+$stops and }\`max_steps\`"
fi
[ -z "$stops" ] || resume_note=" (the run ended by its schedule$how: remove $stops from the copied \`config.yaml\` to train on)"
cat > "$out/MODEL_CARD.md" <<CARD
# $name

- Model: \`$spec\`
- Data: \`$dataset\` (train split; scored on the test split)
- Training: $command — stopped after **$steps optimizer steps** ($((steps * batch)) images,
  $secs s of training time on 2 CPU cores shared with other jobs, burn-flex backend). $converged
- Weights: $weights
- Resume: \`mkdir -p runs && cp -r $out/run runs/$name && trainer fit --config runs/$name/config.yaml --out runs/$name --resume\`$resume_note
- Test bits/dim, \`trainer eval --run RUN --limit $limit\` (burn): \`$eval_json\`
- Test bits/dim, whole test set, Python ONNX Runtime on \`model.onnx\`
  (\`$score_cmd\`): \`${full_json:-n/a (vector-conditioned model: no test vectors to score with)}\`
- Pictures: $pictures
- Curves: \`training-curves.png\` (train bits/dim per step, test bits/dim at epoch ends and at the end of each run)
- Files: $files; the spec and contract are in every graph's metadata;
  \`run/\` (config, metrics, the latest checkpoint: weights, Adam moments, position$ema_file).
CARD
cat "$out/MODEL_CARD.md"
