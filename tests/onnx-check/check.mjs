// An onnxruntime program that shares no code with FastReid.K8s: it decodes PNG files with pngjs, builds
// float32 NCHW RGB 0-255 batches itself, runs an exported model in onnxruntime-node (CPU) and writes the
// features as JSON. OnnxIndependentCheckTests compares them with `fastreid embed`.
//
//   node check.mjs --model model.onnx --images DIR --batch 7 --out features.json
//
// Images are taken in sorted file-name order (code-unit order, as `fastreid embed` sorts) and must all
// have one size, the model's input size: nothing is resampled. A last partial batch is run as it is, so
// the model needs a dynamic batch axis unless the image count is a multiple of --batch.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import pngjs from 'pngjs';

const { PNG } = pngjs;

function fail(message) {
  console.error(`check.mjs: ${message}`);
  process.exit(1);
}

const { values: opts } = parseArgs({
  options: {
    model: { type: 'string' },
    images: { type: 'string' },
    batch: { type: 'string', default: '7' },
    out: { type: 'string' },
  },
});
if (!opts.model || !opts.images || !opts.out) fail('usage: node check.mjs --model MODEL.onnx --images DIR --batch N --out FEATURES.json');
const batch = Number(opts.batch);
if (!Number.isInteger(batch) || batch < 1) fail(`--batch expects a positive integer, got '${opts.batch}'`);

const names = readdirSync(opts.images).filter((n) => n.toLowerCase().endsWith('.png')).sort();
if (names.length === 0) fail(`no .png files in ${opts.images}`);

/** HWC RGBA bytes -> planar RGB floats 0-255 written at `offset` of `target`. */
function decodeInto(name, target, offset, height, width) {
  const png = PNG.sync.read(readFileSync(join(opts.images, name)));
  if (png.width !== width || png.height !== height) fail(`${name} is ${png.width}x${png.height}, the others ${width}x${height}: give images at the model's input size`);
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    // pngjs always yields RGBA, 8 bits per channel
    if (png.data[p * 4 + 3] !== 255) fail(`${name} has transparent pixels; the model takes opaque RGB`);
    for (let c = 0; c < 3; c++) target[offset + c * plane + p] = png.data[p * 4 + c];
  }
}

const first = PNG.sync.read(readFileSync(join(opts.images, names[0])));
const height = first.height;
const width = first.width;

const session = await ort.InferenceSession.create(opts.model, { executionProviders: ['cpu'] });
if (session.inputNames.length !== 1 || session.outputNames.length < 1) fail(`${opts.model}: expected one image input and a feature output`);
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;

const features = [];
let dim = 0;
for (let start = 0; start < names.length; start += batch) {
  const count = Math.min(batch, names.length - start);
  const pixels = new Float32Array(count * 3 * height * width);
  for (let i = 0; i < count; i++) decodeInto(names[start + i], pixels, i * 3 * height * width, height, width);
  const input = new ort.Tensor('float32', pixels, [count, 3, height, width]);
  const output = (await session.run({ [inputName]: input }))[outputName];
  if (output.dims.length !== 2 || output.dims[0] !== count) fail(`output '${outputName}' has shape [${output.dims}], expected [${count}, D]`);
  dim = output.dims[1];
  for (let i = 0; i < count; i++) features.push(Array.from(output.data.subarray(i * dim, (i + 1) * dim)));
}

writeFileSync(opts.out, JSON.stringify({
  onnxruntime: ort.env.versions.node,
  model: opts.model,
  batch,
  input: [height, width],
  dim,
  names,
  features,
}));
console.log(`embedded ${names.length} images (dim ${dim}) at batch ${batch} with onnxruntime-node ${ort.env.versions.node}: ${opts.out}`);
