import { describe, expect, it } from 'vitest';
import { buildBinaryInferRequest, littleEndianBytes } from '../src/infer-request';

describe('buildBinaryInferRequest', () => {
  it('is the JSON header followed by the little-endian tensor bytes', () => {
    const req = buildBinaryInferRequest(
      { name: 'input', shape: [1, 2], datatype: 'FP32', data: new Float32Array([1, -2]) },
      'logits',
      5,
    );
    const header =
      '{"inputs":[{"name":"input","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],' +
      '"outputs":[{"name":"logits","parameters":{"classification":5}}]}';
    expect(req.headerLength).toBe(header.length);
    expect(new TextDecoder().decode(req.body.subarray(0, req.headerLength))).toBe(header);
    // 1.0f = 0x3f800000, -2.0f = 0xc0000000, least significant byte first.
    expect(Array.from(req.body.subarray(req.headerLength))).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    expect(req.body.length).toBe(header.length + 8);
  });

  it('counts the header in bytes, not characters', () => {
    const req = buildBinaryInferRequest({ name: 'entrée', shape: [3], datatype: 'UINT8', data: new Uint8Array([1, 2, 255]) }, null);
    const json = new TextDecoder().decode(req.body.subarray(0, req.headerLength));
    expect(JSON.parse(json)).toEqual({
      inputs: [{ name: 'entrée', shape: [3], datatype: 'UINT8', parameters: { binary_data_size: 3 } }],
    });
    expect(req.headerLength).toBe(json.length + 1); // é is two bytes in UTF-8
    expect(Array.from(req.body.subarray(req.headerLength))).toEqual([1, 2, 255]);
  });

  it('sends only the viewed part of a typed array', () => {
    const whole = new Float32Array([9, 1, 9]);
    expect(Array.from(littleEndianBytes(whole.subarray(1, 2)))).toEqual([0x00, 0x00, 0x80, 0x3f]);
  });
});
