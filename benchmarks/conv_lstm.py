"""ConvLSTM2D benchmark: rnnkit vs Keras 3 on JAX, train step and inference.

    python3 -m benchmarks.conv_lstm [--reps 15] [--rounds 3] [--modes infer,train]

Model (identical calls in both libraries): Input (T10, 32x32, 8 channels) ->
ConvLSTM2D(32, (3, 3)) -> Flatten -> Dense(1), MSE, SGD(0.01), batch 8.
"infer" times `predict_on_batch(x)`, "train" times `train_on_batch(x, y)`. Each
framework runs in its own process (rounds interleave the frameworks); a process times
`--reps` calls after a warm-up and reports their median; the table gives the median of
the rounds' medians and the ratio rnnkit / Keras-JAX.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPE = dict(batch=8, steps=10, size=32, channels=8, filters=32, kernel=(3, 3))
FRAMEWORKS = ("rnnkit", "keras-jax")
MODES = ("infer", "train")


def _library(framework):
    if framework == "keras-jax":
        os.environ["KERAS_BACKEND"] = "jax"
        import keras

        keras.utils.set_random_seed(0)
        return keras, f"Keras {keras.__version__}"
    import rnnkit

    rnnkit.set_random_seed(0)
    return rnnkit, f"rnnkit {rnnkit.__version__}"


def worker(framework: str, reps: int, modes=MODES) -> dict:
    import jax
    import numpy as np

    lib, version = _library(framework)
    s = SHAPE
    L = lib.layers
    model = lib.models.Sequential([
        L.Input(shape=(s["steps"], s["size"], s["size"], s["channels"])),
        L.ConvLSTM2D(s["filters"], s["kernel"]), L.Flatten(), L.Dense(1)])
    model.compile(optimizer=lib.optimizers.SGD(learning_rate=0.01), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((s["batch"], s["steps"], s["size"], s["size"], s["channels"]),
                            dtype=np.float32)
    y = rng.standard_normal((s["batch"], 1), dtype=np.float32)
    calls = {"infer": lambda: np.asarray(model.predict_on_batch(x)),
             "train": lambda: float(np.asarray(model.train_on_batch(x, y)).ravel()[0])}
    out = {"version": f"{version} / JAX {jax.__version__}"}
    for mode in modes:
        fn = calls[mode]
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        for _ in range(3):
            fn()
        times, cpu = [], []
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        out[mode] = {"median_ms": 1e3 * statistics.median(times),
                     "min_ms": 1e3 * min(times), "first_call_s": first,
                     "cpu_median_ms": 1e3 * statistics.median(cpu)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated subset of infer,train (Keras-JAX's train step takes "
                         "seconds per call)")
    ap.add_argument("--worker", choices=FRAMEWORKS)
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not modes or any(m not in MODES for m in modes):
        ap.error(f"--modes expects a comma-separated subset of {','.join(MODES)}; got "
                 f"{args.modes!r}")
    if args.worker:
        print(json.dumps(worker(args.worker, args.reps, modes)))
        return
    load_before = os.getloadavg()
    runs = {fw: [] for fw in FRAMEWORKS}
    for _ in range(args.rounds):
        for fw in FRAMEWORKS:
            res = subprocess.run([sys.executable, "-m", "benchmarks.conv_lstm", "--worker", fw,
                                  "--reps", str(args.reps), "--modes", ",".join(modes)],
                                 capture_output=True, text=True, check=True)
            runs[fw].append(json.loads(res.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    s = SHAPE
    print(f"ConvLSTM2D({s['filters']}, {s['kernel']}) on (B{s['batch']}, T{s['steps']}, "
          f"{s['size']}x{s['size']}, {s['channels']} channels) -> Flatten -> Dense(1); "
          f"{args.rounds} rounds x {args.reps} reps; load average before "
          f"{load_before[0]:.1f}, after {load_after[0]:.1f} (2-core machine)")
    print("| mode | rnnkit median ms | keras-jax median ms | rnnkit / keras-jax |")
    print("|---|---:|---:|---:|")
    for mode in modes:
        med = {fw: statistics.median(r[mode]["median_ms"] for r in runs[fw])
               for fw in FRAMEWORKS}
        print(f"| {mode} | {med['rnnkit']:.1f} | {med['keras-jax']:.1f} | "
              f"{med['rnnkit'] / med['keras-jax']:.2f}x |")
    for fw in FRAMEWORKS:
        rounds = "; ".join(f"{m} " + " / ".join(f"{r[m]['median_ms']:.1f}" for r in runs[fw])
                           for m in modes)
        cpu = "; ".join(f"{m} " + " / ".join(f"{r[m]['cpu_median_ms']:.1f}" for r in runs[fw])
                        for m in modes)
        print(f"- {fw} ({runs[fw][0]['version']}): per-round medians ms: {rounds}; process "
              f"CPU ms per call: {cpu}")


if __name__ == "__main__":
    main()
