import { describe, expect, it } from 'vitest';
import { concreteShape, formatJson, requestTemplate } from '../src/template';

describe('requestTemplate', () => {
  it('fills a batched image input with zeros, the batch dim as 1', () => {
    const t = requestTemplate({
      name: 'efficientnet_lite0',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 224, 224] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 1000] }],
    });
    expect(t.inputs).toHaveLength(1);
    expect(t.inputs[0]!.shape).toEqual([1, 3, 224, 224]);
    expect(t.inputs[0]!.data).toHaveLength(150528);
    expect(t.inputs[0]!.data.every((v) => v === 0)).toBe(true);
  });

  it('uses empty strings for BYTES, false for BOOL, and one element for a scalar', () => {
    const t = requestTemplate({
      name: 'm',
      inputs: [
        { name: 'text', datatype: 'BYTES', shape: [-1, 2] },
        { name: 'mask', datatype: 'BOOL', shape: [2] },
        { name: 'k', datatype: 'INT64', shape: [] },
      ],
      outputs: [],
    });
    expect(t.inputs).toEqual([
      { name: 'text', shape: [1, 2], datatype: 'BYTES', data: ['', ''] },
      { name: 'mask', shape: [2], datatype: 'BOOL', data: [false, false] },
      { name: 'k', shape: [], datatype: 'INT64', data: [0] },
    ]);
  });

  it('replaces every dynamic dimension', () => {
    expect(concreteShape([-1, -1, 64])).toEqual([1, 1, 64]);
  });
});

describe('formatJson', () => {
  it('indents objects and keeps arrays of values on one line', () => {
    const text = formatJson({ inputs: [{ name: 'x', shape: [1, 2], data: [0, 0], parameters: {} }] });
    expect(text).toBe(
      '{\n  "inputs": [\n    {\n      "name": "x",\n      "shape": [1, 2],\n      "data": [0, 0],\n      "parameters": {}\n    }\n  ]\n}',
    );
    expect(JSON.parse(text)).toEqual({ inputs: [{ name: 'x', shape: [1, 2], data: [0, 0], parameters: {} }] });
  });
});
