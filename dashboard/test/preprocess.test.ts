import { describe, expect, it } from 'vitest';
import { pixelsToTensor, planResize } from '../src/preprocess';

describe('planResize', () => {
  it('scales the shorter side and centres the crop, as the server does', () => {
    // sklearn's flower.jpg is 640x427: 256 / 427 * 640 = 383.7 -> 384.
    expect(planResize(640, 427, 256, [224, 224])).toEqual({
      resizeWidth: 384,
      resizeHeight: 256,
      cropX: 80,
      cropY: 16,
      cropWidth: 224,
      cropHeight: 224,
    });
  });

  it('works the same for portrait images and rounds the offset down', () => {
    expect(planResize(300, 601, 256, [224, 224])).toMatchObject({ resizeWidth: 256, resizeHeight: 513, cropX: 16, cropY: 144 });
  });

  it('resizes straight to the crop when the shorter side is 0', () => {
    expect(planResize(640, 427, 0, [32, 48])).toEqual({
      resizeWidth: 48,
      resizeHeight: 32,
      cropX: 0,
      cropY: 0,
      cropWidth: 48,
      cropHeight: 32,
    });
  });

  it('stretches an image still smaller than the crop', () => {
    expect(planResize(100, 100, 8, [16, 16])).toMatchObject({ resizeWidth: 16, resizeHeight: 16, cropX: 0, cropY: 0 });
  });
});

describe('pixelsToTensor', () => {
  // A 4x2 image; pixel i (row-major) is R=10i, G=10i+1, B=10i+2, A=i.
  const width = 4;
  const height = 2;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) rgba.set([10 * i, 10 * i + 1, 10 * i + 2, i], i * 4);

  it('FP32 NCHW RGB: planes of (pixel - mean) / std', () => {
    const t = pixelsToTensor(rgba, width, height, { datatype: 'FP32', layout: 'nchw', color: 'rgb', mean: [0, 1, 2], std: [10, 10, 2] });
    expect(t).toBeInstanceOf(Float32Array);
    // R plane: 10i / 10 = i; G plane: (10i + 1 - 1) / 10 = i; B plane: (10i + 2 - 2) / 2 = 5i.
    expect(Array.from(t)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 5, 10, 15, 20, 25, 30, 35]);
  });

  it('FP32 NHWC BGR: mean and std follow the reordered channels', () => {
    const t = pixelsToTensor(rgba, width, height, { datatype: 'FP32', layout: 'nhwc', color: 'bgr', mean: [127, 127, 127], std: [128, 128, 128] });
    const expected: number[] = [];
    for (let i = 0; i < 8; i++) expected.push((10 * i + 2 - 127) / 128, (10 * i + 1 - 127) / 128, (10 * i - 127) / 128);
    expect(Array.from(t)).toEqual(expected.map(Math.fround));
    expect(t[0]).toBeCloseTo(-0.9765625, 7); // (2 - 127) / 128, the first pixel's blue
  });

  it('UINT8: raw pixels, mean and std not applied', () => {
    const nchw = pixelsToTensor(rgba, width, height, { datatype: 'UINT8', layout: 'nchw', color: 'rgb', mean: [9, 9, 9], std: [9, 9, 9] });
    expect(nchw).toBeInstanceOf(Uint8Array);
    expect(Array.from(nchw)).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 1, 11, 21, 31, 41, 51, 61, 71, 2, 12, 22, 32, 42, 52, 62, 72]);
    const nhwc = pixelsToTensor(rgba, width, height, { datatype: 'UINT8', layout: 'nhwc', color: 'bgr', mean: [], std: [] });
    expect(Array.from(nhwc.slice(0, 6))).toEqual([2, 1, 0, 12, 11, 10]);
  });

  it('refuses too few pixels and datatypes it cannot make', () => {
    expect(() => pixelsToTensor(rgba, 5, 2, { datatype: 'FP32', layout: 'nchw', color: 'rgb', mean: [], std: [] })).toThrow();
    expect(() => pixelsToTensor(rgba, 4, 2, { datatype: 'FP16', layout: 'nchw', color: 'rgb', mean: [], std: [] })).toThrow(/FP16/);
  });
});
