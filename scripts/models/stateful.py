"""Stateful models for sequence batching (issue 8): state in, state out, so the server can carry
it between a sequence's requests (Triton's implicit state).

- stateful/lif.pt: a leaky integrate-and-fire spiking layer in TorchScript. Inputs x [T, 8]
  (T time steps) and v [1, 16] (membrane potential); outputs spikes [T, 16], membrane [T, 16]
  and v_out [1, 16]. Running T steps at once equals running them in chunks with v carried.
- stateful/lstm.onnx: one LSTM layer (input 4, hidden 8) exported to ONNX. Inputs x [T, 1, 4],
  h0 [1, 1, 8], c0 [1, 1, 8]; outputs y [T, 1, 8], hn, cn.
- stateful/gru_batch.onnx: a GRU cell with the batch first, so requests of different sequences
  can share one execution (sequence batching across sequences). Inputs x [B, 4] and h [B, 8];
  outputs y [B, 3] (a linear head on the new h) and hn [B, 8]. Each execution also multiplies
  a 384x384 matrix derived from x four times (about 25 ms on one core, result times zero): a
  test's concurrent sequences then meet in the queue instead of racing a 20 us model.
- silero_vad/silero_vad_stream.onnx: the real Silero VAD with its streaming protocol moved
  inside the graph, built with the onnx library: the input is the bare 512-sample chunk, the
  64-sample context becomes a state pair (context in, contextN out: the last 64 samples of
  context+chunk), and sr is fixed at 16000. Together with state/stateN a client streams
  chunks with only a sequence id and gets reference_onnx_probs.npy (vad.py's straight run).
"""
from typing import Tuple

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import Tensor

from common import assert_close, log, ort_session

D = "stateful"


class LeakyIntegrateAndFire(torch.nn.Module):
    def __init__(self, n_in: int = 8, n_out: int = 16, beta: float = 0.9, threshold: float = 1.0):
        super().__init__()
        g = torch.Generator().manual_seed(7)
        self.weight = torch.nn.Parameter(torch.randn(n_out, n_in, generator=g) * 0.5)
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor, v: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        spikes = []
        trace = []
        for t in range(x.shape[0]):
            v = self.beta * v + torch.nn.functional.linear(x[t:t + 1], self.weight)
            s = (v >= self.threshold).to(torch.float32)
            v = v - s * self.threshold  # reset by subtraction
            spikes.append(s)
            trace.append(v)
        return torch.cat(spikes, 0), torch.cat(trace, 0), v


def make_lif(ctx):
    module = torch.jit.script(LeakyIntegrateAndFire().eval())
    path = ctx.path(f"{D}/lif.pt")
    torch.jit.save(module, path)
    x = torch.from_numpy(np.random.default_rng(3).normal(size=(12, 8)).astype(np.float32))
    loaded = torch.jit.load(path)
    with torch.no_grad():
        whole = loaded(x, torch.zeros(1, 16))
        v = torch.zeros(1, 16)
        parts = []
        for chunk in torch.split(x, 4):
            s, m, v = loaded(chunk, v)
            parts.append(m)
    assert_close("lif chunked vs whole", torch.cat(parts).numpy(), whole[1].numpy(), atol=1e-6)
    assert whole[0].sum() > 0, "the LIF layer never spikes: the test would prove nothing"


def make_lstm(ctx):
    torch.manual_seed(11)
    lstm = torch.nn.LSTM(input_size=4, hidden_size=8).eval()
    path = ctx.path(f"{D}/lstm.onnx")
    x = torch.randn(5, 1, 4)
    h0 = torch.zeros(1, 1, 8)
    torch.onnx.export(lstm, (x, (h0, h0)), path, input_names=["x", "h0", "c0"], output_names=["y", "hn", "cn"],
                      dynamic_axes={"x": {0: "T"}, "y": {0: "T"}}, opset_version=13)
    sess = ort_session(path)
    xs = np.random.default_rng(5).normal(size=(9, 1, 4)).astype(np.float32)
    zeros = np.zeros((1, 1, 8), np.float32)
    whole = sess.run(None, {"x": xs, "h0": zeros, "c0": zeros})[0]
    h, c, parts = zeros, zeros, []
    for chunk in np.split(xs, 3):
        y, h, c = sess.run(None, {"x": chunk, "h0": h, "c0": c})
        parts.append(y)
    assert_close("lstm chunked vs whole", np.concatenate(parts), whole, atol=1e-5)


class BatchedGru(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(13)
        self.cell = torch.nn.GRUCell(4, 8)
        self.head = torch.nn.Linear(8, 3)

    def forward(self, x: Tensor, h: Tensor) -> Tuple[Tensor, Tensor]:
        h = self.cell(x, h)
        # Work that depends on x (so it is not folded away) and changes nothing: ones stay ones.
        w = (x.sum() * 0 + 1).expand(384, 384)
        for _ in range(4):
            w = w @ w / 384
        return self.head(h) + 0 * w.mean(), h


def make_gru_batch(ctx):
    model = BatchedGru().eval()
    path = ctx.path(f"{D}/gru_batch.onnx")
    x, h = torch.randn(2, 4), torch.zeros(2, 8)
    torch.onnx.export(model, (x, h), path, input_names=["x", "h"], output_names=["y", "hn"],
                      dynamic_axes={"x": {0: "B"}, "h": {0: "B"}, "y": {0: "B"}, "hn": {0: "B"}}, opset_version=13)
    sess = ort_session(path)
    xs = np.random.default_rng(6).normal(size=(5, 3, 4)).astype(np.float32)  # 5 steps of 3 sequences
    h_all = np.zeros((3, 8), np.float32)
    for step in xs:  # the three sequences in one batch equal each run alone
        y_all, h_next = sess.run(None, {"x": step, "h": h_all})
        for i in range(3):
            y_one, _ = sess.run(None, {"x": step[i:i + 1], "h": h_all[i:i + 1]})
            assert_close("gru_batch row vs alone", y_all[i:i + 1], y_one, atol=1e-6)
        h_all = h_next


def make_silero_stream(ctx):
    model = onnx.load(ctx.path("silero_vad/silero_vad.onnx"))
    g = model.graph
    float_type = onnx.TensorProto.FLOAT
    # The original "input" [1, 576] is now made inside: Concat(context, chunk).
    original = [i for i in g.input if i.name == "input"][0]
    g.input.remove(original)
    sr = [i for i in g.input if i.name == "sr"][0]
    g.input.remove(sr)
    g.initializer.append(numpy_helper.from_array(np.array(16000, dtype=np.int64), "sr"))
    g.input.insert(0, helper.make_tensor_value_info("chunk", float_type, [1, 512]))
    g.input.append(helper.make_tensor_value_info("context", float_type, [1, 64]))
    g.initializer.extend([numpy_helper.from_array(np.array([-64], np.int64), "polaris_ctx_start"),
                          numpy_helper.from_array(np.array([576], np.int64), "polaris_ctx_end"),
                          numpy_helper.from_array(np.array([1], np.int64), "polaris_ctx_axis")])
    concat = helper.make_node("Concat", ["context", "chunk"], ["input"], axis=1, name="polaris_context_concat")
    tail = helper.make_node("Slice", ["input", "polaris_ctx_start", "polaris_ctx_end", "polaris_ctx_axis"],
                            ["contextN"], name="polaris_context_tail")
    nodes = [concat, tail] + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    g.output.append(helper.make_tensor_value_info("contextN", float_type, [1, 64]))
    onnx.checker.check_model(model)
    path = ctx.path("silero_vad/silero_vad_stream.onnx")
    onnx.save(model, path)

    # Streaming the clip through it reproduces vad.py's straight run.
    sess = ort_session(path)
    clip = np.load(ctx.path("silero_vad/speech_16k.npy"))
    want = np.load(ctx.path("silero_vad/reference_onnx_probs.npy"))
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros((1, 64), np.float32)
    got = []
    for k in range(len(want)):
        out, state, context = sess.run(["output", "stateN", "contextN"],
                                       {"chunk": clip[None, k * 512:(k + 1) * 512], "state": state,
                                        "context": context})
        got.append(out.reshape(-1)[0])
    assert_close("silero stream vs straight run", np.array(got, np.float32).reshape(want.shape), want, atol=1e-5)


def generate(ctx):
    log("building stateful models (LIF TorchScript, LSTM ONNX, batched GRU ONNX, silero streaming wrapper) ...")
    make_lif(ctx)
    make_lstm(ctx)
    make_gru_batch(ctx)
    make_silero_stream(ctx)
