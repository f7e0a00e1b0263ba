import { describe, expect, it } from 'vitest';
import { describeDevices } from '../src/devices-model';

// Trimmed from `polaris devices --json` on a CPU-only machine.
const sample = {
  cuda: { available: false, devices: [], reason: 'no NVIDIA driver' },
  cpu: {
    available: true,
    reason: '',
    devices: [
      {
        features: ['avx2', 'avx512f'],
        id: 'cpu',
        memory_bytes: 25276071936,
        name: 'Intel(R) Xeon(R) Processor',
        properties: { cores: '2', logical_cpus: '2' },
        providers: [
          { engine: 'onnxruntime', provider: 'cpu', usable: true },
          { engine: 'opencv', provider: 'opencl', usable: false, note: 'needs OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1' },
        ],
        type: 'cpu',
      },
    ],
  },
};

describe('describeDevices', () => {
  it('makes a group per family and a card per device', () => {
    const groups = describeDevices(sample);
    expect(groups.map((g) => [g.name, g.available, g.reason, g.devices.length])).toEqual([
      ['cuda', false, 'no NVIDIA driver', 0],
      ['cpu', true, '', 1],
    ]);
    const cpu = groups[1]!.devices[0]!;
    expect(cpu.title).toBe('Intel(R) Xeon(R) Processor');
    expect(cpu.fields).toEqual([
      ['features', 'avx2, avx512f'],
      ['id', 'cpu'],
      ['memory', '23.5 GiB'],
      ['cores', '2'],
      ['logical cpus', '2'],
      ['type', 'cpu'],
    ]);
    expect(cpu.providers).toEqual([
      { engine: 'onnxruntime', provider: 'cpu', usable: true, note: '' },
      { engine: 'opencv', provider: 'opencl', usable: false, note: 'needs OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1' },
    ]);
  });

  it('takes a plain list of devices', () => {
    const groups = describeDevices([{ name: 'gpu0', kind: 'cuda', providers: ['cuda', 'tensorrt'] }]);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.devices[0]).toEqual({
      title: 'gpu0',
      fields: [['kind', 'cuda']],
      providers: [
        { engine: '', provider: 'cuda', usable: null, note: '' },
        { engine: '', provider: 'tensorrt', usable: null, note: '' },
      ],
    });
  });

  it('survives shapes it does not know', () => {
    expect(describeDevices(null)).toEqual([]);
    expect(describeDevices('x')[0]!.fields).toEqual([['value', 'x']]);
    expect(describeDevices({ devices: [3] })[0]!.devices[0]!.title).toBe('3');
    expect(describeDevices({ odd: 7 })[0]).toMatchObject({ name: 'odd', fields: [['value', '7']] });
  });
});
