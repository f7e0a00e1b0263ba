// A photo as the model's input tensor, the way `polaris predict --input-dir`
// makes one (batch/image_preprocessing.cc): resize, centre crop, colour
// order, (pixel - mean) / std, layout. The resampling itself needs a canvas
// (image-canvas.ts); everything here is arithmetic.
import type { Preprocessing } from './types';

export interface ResizePlan {
  // The whole image is first scaled to this size...
  resizeWidth: number;
  resizeHeight: number;
  // ...then this rectangle of the scaled image is the input.
  cropX: number;
  cropY: number;
  cropWidth: number;
  cropHeight: number;
}

// Same rounding as the server: sizes by lround, at least 1 pixel, an image
// still smaller than the crop after resizing is stretched up to it, and the
// crop's offset rounds down.
export function planResize(
  width: number,
  height: number,
  resizeShorterSide: number,
  crop: readonly [number, number],
): ResizePlan {
  const [cropHeight, cropWidth] = crop;
  let w: number;
  let h: number;
  if (resizeShorterSide > 0) {
    const scale = resizeShorterSide / Math.min(width, height);
    w = Math.max(1, Math.round(width * scale));
    h = Math.max(1, Math.round(height * scale));
  } else {
    w = cropWidth;
    h = cropHeight;
  }
  w = Math.max(w, cropWidth);
  h = Math.max(h, cropHeight);
  return {
    resizeWidth: w,
    resizeHeight: h,
    cropX: Math.floor((w - cropWidth) / 2),
    cropY: Math.floor((h - cropHeight) / 2),
    cropWidth,
    cropHeight,
  };
}

export type PixelSpec = Pick<Preprocessing, 'datatype' | 'layout' | 'color' | 'mean' | 'std'>;

// `rgba` is canvas ImageData: width*height pixels of R,G,B,A. Alpha is
// dropped (the server decodes photos to 3 channels too). mean[c] and std[c]
// belong to the model's channel c, i.e. after the colour reorder.
export function pixelsToTensor(
  rgba: Uint8ClampedArray | Uint8Array,
  width: number,
  height: number,
  spec: PixelSpec,
): Float32Array | Uint8Array {
  if (rgba.length < width * height * 4) throw new Error(`expected ${width}x${height} RGBA pixels, got ${rgba.length} bytes`);
  const order = spec.color === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  const planar = spec.layout !== 'nhwc';
  const plane = width * height;
  const index = (c: number, p: number) => (planar ? c * plane + p : p * 3 + c);
  if (spec.datatype === 'UINT8') {
    const out = new Uint8Array(plane * 3);
    for (let p = 0; p < plane; p++)
      for (let c = 0; c < 3; c++) out[index(c, p)] = rgba[p * 4 + order[c]!]!;
    return out;
  }
  if (spec.datatype !== 'FP32') throw new Error(`the dashboard cannot make ${spec.datatype} pixels (FP32 or UINT8 only)`);
  const mean = [0, 1, 2].map((c) => spec.mean[c] ?? 0);
  const inv = [0, 1, 2].map((c) => 1 / (spec.std[c] || 1));
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++)
    for (let c = 0; c < 3; c++) out[index(c, p)] = (rgba[p * 4 + order[c]!]! - mean[c]!) * inv[c]!;
  return out;
}
