// Decoding and resampling a photo in the browser; the arithmetic around it
// is in preprocess.ts.
import { pixelsToTensor, planResize } from './preprocess';
import type { Preprocessing } from './types';

function canvas(width: number, height: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  return c;
}

function context(c: HTMLCanvasElement, readBack = false): CanvasRenderingContext2D {
  const ctx = c.getContext('2d', { willReadFrequently: readBack });
  if (!ctx) throw new Error('this browser gives no 2D canvas');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  return ctx;
}

// Shrinking by more than half in one drawImage skips source pixels in
// browsers whose smoothing is bilinear (Firefox ignores
// imageSmoothingQuality): halving step by step averages every pixel, close
// to the server's INTER_AREA.
function resample(source: CanvasImageSource, width: number, height: number, toWidth: number, toHeight: number): HTMLCanvasElement {
  let current: CanvasImageSource = source;
  let w = width;
  let hgt = height;
  while (w >= toWidth * 2 && hgt >= toHeight * 2) {
    const nw = Math.max(toWidth, Math.floor(w / 2));
    const nh = Math.max(toHeight, Math.floor(hgt / 2));
    const step = canvas(nw, nh);
    context(step).drawImage(current, 0, 0, w, hgt, 0, 0, nw, nh);
    current = step;
    w = nw;
    hgt = nh;
  }
  const out = canvas(toWidth, toHeight);
  context(out).drawImage(current, 0, 0, w, hgt, 0, 0, toWidth, toHeight);
  return out;
}

export interface PreparedImage {
  tensor: Float32Array | Uint8Array;
  // What the model sees, for the preview.
  pixels: ImageData;
}

export async function prepareImage(file: Blob, spec: Preprocessing): Promise<PreparedImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('the browser cannot decode this file as an image');
  }
  try {
    const plan = planResize(bitmap.width, bitmap.height, spec.resize_shorter_side, spec.crop);
    const resized = resample(bitmap, bitmap.width, bitmap.height, plan.resizeWidth, plan.resizeHeight);
    const cropped = canvas(plan.cropWidth, plan.cropHeight);
    const ctx = context(cropped, true);
    ctx.drawImage(resized, plan.cropX, plan.cropY, plan.cropWidth, plan.cropHeight, 0, 0, plan.cropWidth, plan.cropHeight);
    const pixels = ctx.getImageData(0, 0, plan.cropWidth, plan.cropHeight);
    return { tensor: pixelsToTensor(pixels.data, plan.cropWidth, plan.cropHeight, spec), pixels };
  } finally {
    bitmap.close();
  }
}
