"""Silero VAD (module not named silero_vad: that would shadow the wheel): a small stateful real-world model (ONNX with an explicit state, TorchScript with
hidden state and an `int` argument), plus a synthetic speech clip and reference probabilities.

The model files are copied from the `silero-vad` wheel. The wheel's Python package is *not*
imported (its utilities want torchaudio); its streaming protocol, re-implemented in
`onnx_probs()`, is: 16 kHz, 512-sample chunks, each prefixed with the previous 64 samples
("context", zeros at the start), state [2, batch, 128] starting at zeros, sr as an int64 scalar.
The clip is espeak-ng speech, resampled by sox to 16 kHz mono float, padded with 1 s of silence.
"""
import importlib.util
import os
import shutil
import subprocess
import tempfile

import numpy as np
import torch

from common import assert_close, log, ort_session, spec, test_case

SR, CHUNK, CONTEXT = 16000, 512, 64
PAD_S = 1.0
SENTENCE = "Polaris is an inference server. This short recording checks that speech is detected."
D = "silero_vad"


def wheel_data_dir():
    # find_spec on the top-level package does not execute its __init__ (which imports torchaudio)
    spec_ = importlib.util.find_spec("silero_vad")
    return os.path.join(spec_.submodule_search_locations[0], "data")


def synthesize():
    """Returns (clip float32 in [-1,1], speech start sample, speech end sample)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"make-models: '{tool}' not found (apt-get install espeak-ng sox)")
    with tempfile.TemporaryDirectory() as tmp:
        wav, raw = os.path.join(tmp, "speech.wav"), os.path.join(tmp, "speech.f32")
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", wav, SENTENCE], check=True)
        # -D: no dither, so the output is bit-for-bit reproducible
        subprocess.run(["sox", "-D", wav, "-r", str(SR), "-c", "1", "-e", "floating-point",
                        "-b", "32", "-L", "-t", "raw", raw], check=True)
        speech = np.fromfile(raw, dtype="<f4").astype(np.float32)
    speech = speech * np.float32(0.8 / np.max(np.abs(speech)))  # fixed peak level
    pad = np.zeros(int(PAD_S * SR), dtype=np.float32)
    clip = np.concatenate([pad, speech, pad])
    tail = (-len(clip)) % CHUNK  # whole number of chunks keeps the reference simple
    clip = np.concatenate([clip, np.zeros(tail, dtype=np.float32)])
    # espeak-ng leaves some quiet lead-in/out: locate the audible part for the checks below
    loud = np.nonzero(np.abs(clip) > 0.02)[0]
    return clip, int(loud[0]), int(loud[-1])


def onnx_probs(sess, clip):
    """Per-chunk speech probabilities, plus the (input, state) fed at every chunk."""
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, CONTEXT), dtype=np.float32)
    sr = np.array(SR, dtype=np.int64)
    probs, feeds = [], []
    for start in range(0, len(clip), CHUNK):
        x = np.concatenate([context, clip[None, start:start + CHUNK]], axis=1)
        feeds.append((x, state))
        out, state = sess.run(["output", "stateN"], {"input": x, "state": state, "sr": sr})
        probs.append(out[0, 0])
        context = x[:, -CONTEXT:]
    return np.array(probs, dtype=np.float32), feeds


def jit_probs(path, clip):
    model = torch.jit.load(path).eval()
    with torch.no_grad():
        return np.array([float(model(torch.from_numpy(clip[None, s:s + CHUNK].copy()), SR))
                         for s in range(0, len(clip), CHUNK)], dtype=np.float32)


def check_probs(probs, start, end):
    first = start // CHUNK  # chunks wholly before the first audible sample
    lead = probs[:first]
    after = probs[(end + SR // 2) // CHUNK + 1:]  # 0.5 s after speech: allow for hangover
    inside = probs[first + 1:end // CHUNK]
    assert lead.max() < 0.1, f"silence before speech: max prob {lead.max()}"
    assert after.max() < 0.1, f"silence after speech: max prob {after.max()}"
    assert inside.max() > 0.9, f"speech: max prob {inside.max()}"
    assert np.mean(inside > 0.5) > 0.6, f"speech: only {np.mean(inside > 0.5):.2f} above 0.5"
    return float(np.mean(inside > 0.5))


def generate(ctx):
    log("preparing silero_vad (wheel files, espeak-ng clip, reference probs) ...")
    src = wheel_data_dir()
    for f in ("silero_vad.onnx", "silero_vad.jit"):
        shutil.copyfile(os.path.join(src, f), ctx.path(f"{D}/{f}"))
    clip, start, end = synthesize()
    ctx.save_npy(f"{D}/speech_16k.npy", clip)

    sess = ort_session(ctx.path(f"{D}/silero_vad.onnx"))
    ins = {i.name: (i.type, i.shape) for i in sess.get_inputs()}
    outs = {o.name: (o.type, o.shape) for o in sess.get_outputs()}
    assert set(ins) == {"input", "state", "sr"} and set(outs) == {"output", "stateN"}, (ins, outs)
    probs, feeds = onnx_probs(sess, clip)
    ctx.save_npy(f"{D}/reference_onnx_probs.npy", probs)
    speech_fraction = check_probs(probs, start, end)

    # The TorchScript file is the same network with the state kept inside the module.
    jprobs = jit_probs(ctx.path(f"{D}/silero_vad.jit"), clip)
    assert_close("silero_vad.jit vs onnx", jprobs, probs, atol=2e-3)
    ctx.save_npy(f"{D}/reference_jit_probs.npy", jprobs)

    # Single-step vectors: the first chunk fully inside speech, fed to a fresh model
    # (zero context, zero state), plus the same chunk mid-stream with the real context/state.
    k = start // CHUNK + 2
    chunk = clip[None, k * CHUNK:(k + 1) * CHUNK].copy()
    sr = np.array(SR, dtype=np.int64)
    fresh_x = np.concatenate([np.zeros((1, CONTEXT), np.float32), chunk], axis=1)
    fresh_s = np.zeros((2, 1, 128), np.float32)
    tests_onnx = []
    for tag, (x, s) in (("fresh", (fresh_x, fresh_s)), ("stream", feeds[k])):
        out, state_n = sess.run(["output", "stateN"], {"input": x, "state": s, "sr": sr})
        v = {n: ctx.save_npy(f"{D}/vectors/{tag}.{n}.npy", a) for n, a in
             (("input", x), ("state", s), ("sr", sr), ("output", out), ("stateN", state_n))}
        tests_onnx.append(test_case({n: v[n] for n in ("input", "state", "sr")},
                                    {n: v[n] for n in ("output", "stateN")}, atol=1e-4))
    with torch.no_grad():
        jit_out = torch.jit.load(ctx.path(f"{D}/silero_vad.jit"))(torch.from_numpy(chunk), SR)
    jx = ctx.save_npy(f"{D}/vectors/jit.x.npy", chunk)
    jsr = ctx.save_npy(f"{D}/vectors/jit.sr.npy", np.array([SR], dtype=np.int64))
    jo = ctx.save_npy(f"{D}/vectors/jit.output.npy", jit_out.numpy())

    ctx.write_json(f"{D}/reference.json", {
        "sample_rate": SR, "chunk_samples": CHUNK, "context_samples": CONTEXT,
        "state_shape": [2, 1, 128], "speech_start_sample": start, "speech_end_sample": end,
        "chunks": int(len(probs)), "speech_chunk_fraction_above_0.5": speech_fraction,
        "sentence": SENTENCE, "onnx_inputs": {n: [t, list(s)] for n, (t, s) in ins.items()},
        "onnx_outputs": {n: [t, list(s)] for n, (t, s) in outs.items()}})
    log(f"silero_vad {len(probs)} chunks, {speech_fraction:.0%} of speech chunks above 0.5")

    ctx.add("silero_vad", f"{D}/silero_vad.onnx", "onnx",
            [spec("input", "FP32", [-1, -1]), spec("state", "FP32", [2, -1, 128]),
             spec("sr", "INT64", [])],
            [spec("output", "FP32", [-1, 1]), spec("stateN", "FP32", [-1, -1, -1])], tests_onnx)
    # stateful: its test only holds for the first call after loading the model
    ctx.add("silero_vad_pt", f"{D}/silero_vad.jit", "torchscript",
            [spec("x", "FP32", [-1, 512]), spec("sr", "INT64", [1])],
            [spec("output__0", "FP32", [-1, 1])],
            [test_case({"x": jx, "sr": jsr}, {"output__0": jo}, atol=1e-4)], stateful=True)
