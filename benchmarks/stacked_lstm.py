"""Stacked LSTM layers as one wavefront call (`rnnkit.config.set_stacked_layers`, PERF_NOTES
lever 15) against the same layers called one by one, and PyTorch's stacked LSTM.

    python3 -m benchmarks.stacked_lstm [--batches 1,8,64] [--rounds 5] [--reps 10]

Model: Input (T100, D64) -> LSTM(256, return_sequences=True) -> LSTM(256) -> Dense(1),
inference (`predict_on_batch`), torch with 2 threads in the same process. Variants:
"layers" (rnnkit default), "stacked" (the opt-in; where its rule keeps the batch split,
e.g. B64 on two cores, it is the same program as "layers"), "forced" (the stacked call even
where the rule declines it, to measure the wavefront there) and "torch". Rounds interleave
the variants; each round times `--reps` calls; the table gives the median of the rounds
and the median over rounds of each variant's ratio to "layers". The load average is
printed: on a busy machine the per-step hand-off between the threads costs more than it
does on a quiet one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

T, D, H = 100, 64, 256


def _models(batch):
    import numpy as np
    import torch

    import rnnkit
    from rnnkit.core import fused

    torch.set_num_threads(2)
    L = rnnkit.layers
    x = np.random.default_rng(0).normal(size=(batch, T, D)).astype(np.float32)

    def build(stacked, force=False):
        rnnkit.config.set_stacked_layers(stacked)
        real = fused.stack_ready
        if force:  # the kernel's own checks still apply inside the forced call
            fused.stack_ready = lambda cfgs, params, shape: real(cfgs, params, (1,) + shape[1:])
        try:
            model = rnnkit.models.Sequential([L.Input(shape=(T, D)),
                                              L.LSTM(H, return_sequences=True), L.LSTM(H),
                                              L.Dense(1)])
            if base is not None:
                model.set_weights(base.get_weights())
            model.predict_on_batch(x)  # traced and compiled with the setting above
        finally:
            fused.stack_ready = real
            rnnkit.config.set_stacked_layers(False)
        return model

    base = None
    base = build(False)
    variants = {"layers": base, "stacked": build(True), "forced": build(True, force=True)}
    tm = torch.nn.LSTM(D, H, num_layers=2, batch_first=True).eval()
    head = torch.nn.Linear(H, 1).eval()
    xt = torch.from_numpy(x)

    def run_torch():
        with torch.inference_mode():
            out, _ = tm(xt)
            head(out[:, -1])

    fns = {name: (lambda m=m: m.predict_on_batch(x)) for name, m in variants.items()}
    fns["torch"] = run_torch
    ref = variants["layers"].predict_on_batch(x)
    for name in ("stacked", "forced"):
        diff = float(np.abs(variants[name].predict_on_batch(x) - ref).max())
        if diff > 1e-5:
            raise AssertionError(f"{name} differs from the per-layer result by {diff}")
    return fns


def measure(batch, rounds, reps):
    fns = _models(batch)
    for f in fns.values():
        f()
    times = {name: [] for name in fns}
    load0 = os.getloadavg()[0]
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(reps):
                f()
            times[name].append((time.perf_counter() - t0) / reps * 1e3)
    return times, (load0, os.getloadavg()[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,8,64")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args(argv)
    print(f"2-layer LSTM({H}) inference, T{T} D{D}; ms per predict_on_batch "
          "(median of rounds); ratio to 'layers' (median over rounds)")
    print("| batch | layers | stacked | forced | torch | stacked/layers | forced/layers | "
          "torch/layers | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for batch in (int(b) for b in args.batches.split(",")):
        t, (l0, l1) = measure(batch, args.rounds, args.reps)
        med = {k: statistics.median(v) for k, v in t.items()}
        ratio = {k: statistics.median(a / b for a, b in zip(t[k], t["layers"])) for k in t}
        print(f"| {batch} | {med['layers']:.3f} | {med['stacked']:.3f} | {med['forced']:.3f} "
              f"| {med['torch']:.3f} | {ratio['stacked']:.2f}x | {ratio['forced']:.2f}x | "
              f"{ratio['torch']:.2f}x | {l0:.1f} -> {l1:.1f} |", flush=True)


if __name__ == "__main__":
    main()
