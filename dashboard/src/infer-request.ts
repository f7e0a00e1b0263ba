// KServe v2 inference requests: the binary tensor extension (a JSON header
// followed by raw tensor bytes) for photos, plain JSON for everything else.

export interface BinaryInput {
  name: string;
  shape: number[];
  datatype: string;
  data: Float32Array | Uint8Array | Int32Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Float64Array;
}

export interface BinaryRequest {
  body: Uint8Array<ArrayBuffer>;
  // The value for the Inference-Header-Content-Length header.
  headerLength: number;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// The extension's bytes are little-endian whatever the browser's host order;
// on the (little-endian) hosts browsers run on this is a plain copy.
export function littleEndianBytes(data: BinaryInput['data']): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (littleEndianHost || data.BYTES_PER_ELEMENT === 1) return bytes;
  const out = new Uint8Array(bytes.length);
  const size = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += size)
    for (let b = 0; b < size; b++) out[i + b] = bytes[i + size - 1 - b]!;
  return out;
}

export function buildBinaryInferRequest(input: BinaryInput, output: string | null, classification = 5): BinaryRequest {
  const tensor = littleEndianBytes(input.data);
  const header: Record<string, unknown> = {
    inputs: [
      {
        name: input.name,
        shape: input.shape,
        datatype: input.datatype,
        parameters: { binary_data_size: tensor.byteLength },
      },
    ],
  };
  if (output !== null) header.outputs = [{ name: output, parameters: { classification } }];
  const json = new TextEncoder().encode(JSON.stringify(header));
  const body = new Uint8Array(json.length + tensor.length);
  body.set(json, 0);
  body.set(tensor, json.length);
  return { body, headerLength: json.length };
}
