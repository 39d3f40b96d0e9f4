"""An exported LSTM model in onnxruntime vs rnnkit's predict (inference, CPU).

    python3 -m benchmarks.onnx_export [--batch 64] [--steps 100] [--repeats 30]

Model: Input(None, 64) -> LSTM(256) -> Dense(10) (the "LSTM / infer" workload's shapes).
Both sides get the same float32 batch; each is warmed up, then timed `--repeats` times;
medians in ms are printed, and the largest output difference. Needs onnx + onnxruntime.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads "
                   "(0: its default)")
    args = p.parse_args(argv)

    import onnxruntime as ort

    import rnnkit
    from rnnkit import layers as L

    rnnkit.set_random_seed(0)
    inp = rnnkit.Input(shape=(None, args.features))
    model = rnnkit.Model(inp, L.Dense(10)(L.LSTM(args.units)(inp)))
    x = np.random.default_rng(0).normal(size=(args.batch, args.steps, args.features)
                                        ).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lstm.onnx"
        model.export(path, format="onnx", verbose=False)
        opts = ort.SessionOptions()
        if args.threads:
            opts.intra_op_num_threads = args.threads
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def run_ort():
        return sess.run(None, {name: x})[0]

    def run_predict():
        return model.predict(x, batch_size=args.batch, verbose=0)

    def run_call():
        return np.asarray(model(x))

    for fn in (run_ort, run_predict, run_call):  # warm-up (compilation, allocations)
        fn()
        fn()
    diff = float(np.abs(run_ort() - run_predict()).max())
    rows = [("onnxruntime InferenceSession.run", _median_ms(run_ort, args.repeats)),
            ("rnnkit model.predict", _median_ms(run_predict, args.repeats)),
            ("rnnkit model(x)", _median_ms(run_call, args.repeats))]
    print(f"LSTM({args.units}) -> Dense(10), batch {args.batch}, {args.steps} steps, "
          f"{args.features} features; onnxruntime {ort.__version__}; "
          f"{args.repeats} repeats; max |onnx - predict| = {diff:.2e}")
    for label, ms in rows:
        print(f"  {label:<34s} median {ms:8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
