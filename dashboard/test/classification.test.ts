import { describe, expect, it } from 'vitest';
import { classificationsOf, parseClassification } from '../src/classification';

describe('parseClassification', () => {
  it('reads score, index and label', () => {
    expect(parseClassification('0.8712:985:daisy')).toEqual({ score: 0.8712, index: 985, label: 'daisy' });
  });
  it('reads entries without labels', () => {
    expect(parseClassification('0.116567:649')).toEqual({ score: 0.116567, index: 649, label: null });
  });
  it('keeps colons inside the label', () => {
    expect(parseClassification('-1.5:3:a:b c')).toEqual({ score: -1.5, index: 3, label: 'a:b c' });
  });
  it('rejects what is not a classification', () => {
    expect(parseClassification('daisy')).toBeNull();
    expect(parseClassification('x:1:daisy')).toBeNull();
    expect(parseClassification('0.5:1.5:daisy')).toBeNull();
  });
});

describe('classificationsOf', () => {
  it('reads the first output of an infer answer', () => {
    const answer = {
      model_name: 'efficientnet_lite0',
      outputs: [{ name: 'logits', datatype: 'BYTES', shape: [1, 2], data: ['0.9:985:daisy', '0.05:309:bee'] }],
    };
    expect(classificationsOf(answer).map((r) => r.label)).toEqual(['daisy', 'bee']);
  });
  it('is empty for anything else', () => {
    expect(classificationsOf({ outputs: [{ data: [1, 2] }] })).toEqual([]);
    expect(classificationsOf(null)).toEqual([]);
    expect(classificationsOf({})).toEqual([]);
  });
});
