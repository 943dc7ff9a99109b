/**
 * npm run lab:policies [-- --model <fp32.onnx>]
 *
 * Measures the two places where preprocess() deliberately reads a file differently from PIL, with a
 * trained model (default ../shared/models/mobilenetv2-fp32.onnx) on the 50 shared photos:
 * - EXIF orientation: each photo stored sideways with orientation 6 (as a phone stores it). PIL
 *   ignores the tag, so the model sees the photo rotated; preprocess() applies it. Top-1 of each.
 * - Alpha: each photo cut out (an ellipse of it opaque, the rest transparent) and saved twice, with
 *   the transparent pixels' colour kept and with it zeroed (as many PNG optimisers store it). The two
 *   files look the same. How often does top-1 differ between the two, and from the photo itself,
 *   when alpha is dropped (PIL's convert('RGB')) or composited over white (preprocess())?
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SHARED_FILES } from '../paths.ts';
import { sessionOptions } from '../src/classifier/classifier.ts';
import { roundHalfEven } from '../src/classifier/math.ts';
import { IMAGENET_DEFAULTS } from '../src/classifier/model-folder.ts';
import { ort, sharp } from '../src/classifier/native.ts';
import { type PreprocessSpec, preprocess, resizedSize } from '../src/classifier/preprocess.ts';
import { pilResizeCrop, toNormalisedPlanes } from '../src/classifier/resize.ts';

const SPEC: PreprocessSpec = IMAGENET_DEFAULTS;

const { values } = parseArgs({
  options: { model: { type: 'string', default: SHARED_FILES.fp32 } },
});
const session = await ort.InferenceSession.create(values.model, sessionOptions(2, false));
async function top1(planes: Float32Array): Promise<number> {
  const out = await session.run({
    [session.inputNames[0] as string]: new ort.Tensor('float32', planes, [1, 3, 224, 224]),
  });
  const v = out[session.outputNames[0] as string]?.data as Float32Array;
  let best = 0;
  for (let i = 1; i < v.length; i++) if ((v[i] as number) > (v[best] as number)) best = i;
  return best;
}

/** PIL's reading of raw pixels: no orientation, alpha dropped; then torchvision's transform. */
function pil(rgba: Buffer, width: number, height: number, channels: number): Float32Array {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++)
    for (let c = 0; c < 3; c++) rgb[i * 3 + c] = rgba[i * channels + c] as number;
  const r = resizedSize(width, height, 256);
  const crop = {
    left: roundHalfEven((r.width - 224) / 2),
    top: roundHalfEven((r.height - 224) / 2),
    width: 224,
    height: 224,
  };
  return toNormalisedPlanes(pilResizeCrop(rgb, width, height, r.width, r.height, crop), 224 * 224, SPEC);
}

const photos = JSON.parse(await readFile(join(SHARED_FILES.photos, 'photos.json'), 'utf8')) as {
  file: string;
  classIndex: number;
}[];
let upright = 0;
let sideways = 0;
const alpha = {
  dropDiffer: 0,
  dropWrongVsPhoto: 0,
  whiteDiffer: 0,
  whiteTop1: 0,
  keptTop1: 0,
  zeroedTop1: 0,
};
for (const p of photos) {
  const bytes = await readFile(join(SHARED_FILES.photos, p.file));
  // EXIF: pixels stored rotated 90° counter-clockwise, tagged orientation 6.
  const stored = await sharp(bytes, { ignoreIcc: true })
    .rotate(-90)
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  if ((await top1((await preprocess(stored, SPEC)).data)) === p.classIndex) upright++;
  const raw = await sharp(stored, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
  if ((await top1(pil(raw.data, raw.info.width, raw.info.height, raw.info.channels))) === p.classIndex)
    sideways++;
  // Alpha: an ellipse filling 80% of each side opaque, the rest transparent.
  const { data, info } = await sharp(bytes, { ignoreIcc: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const zeroed = Buffer.from(data);
  for (let y = 0; y < info.height; y++)
    for (let x = 0; x < info.width; x++) {
      const dx = (x + 0.5 - info.width / 2) / (0.4 * info.width);
      const dy = (y + 0.5 - info.height / 2) / (0.4 * info.height);
      if (dx * dx + dy * dy <= 1) continue;
      const i = (y * info.width + x) * 4;
      data[i + 3] = 0;
      zeroed.fill(0, i, i + 4);
    }
  const png = (px: Buffer) =>
    sharp(px, { raw: { width: info.width, height: info.height, channels: 4 } })
      .png()
      .toBuffer();
  const keptDrop = await top1(pil(data, info.width, info.height, 4));
  const zeroDrop = await top1(pil(zeroed, info.width, info.height, 4));
  const keptWhite = await top1((await preprocess(await png(data), SPEC)).data);
  const zeroWhite = await top1((await preprocess(await png(zeroed), SPEC)).data);
  if (keptDrop !== zeroDrop) alpha.dropDiffer++;
  if (keptWhite !== zeroWhite) alpha.whiteDiffer++;
  if (keptDrop === p.classIndex) alpha.keptTop1++;
  if (zeroDrop === p.classIndex) alpha.zeroedTop1++;
  if (keptWhite === p.classIndex) alpha.whiteTop1++;
}
await session.release();
const n = photos.length;
console.log(
  `EXIF orientation 6, top-1: applied (preprocess) ${upright}/${n}; ignored (PIL) ${sideways}/${n}`,
);
console.log(
  `alpha cut-outs, top-1: PIL drop, hidden colour kept ${alpha.keptTop1}/${n}; PIL drop, hidden colour zeroed ${alpha.zeroedTop1}/${n}; over white (either file) ${alpha.whiteTop1}/${n}`,
);
console.log(
  `alpha cut-outs, two files that look the same get different top-1: PIL drop ${alpha.dropDiffer}/${n}; over white ${alpha.whiteDiffer}/${n}`,
);
