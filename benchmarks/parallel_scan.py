"""MinGRU / MinLSTM / LRU (parallel form) against rnnkit's own GRU on this machine.

    python3 -m benchmarks.parallel_scan                 # speed, scaling, memory, quality
    python3 -m benchmarks.parallel_scan --only speed    # one part: speed|scaling|memory|quality

- speed: B8 T4096 D256, 256 units: train step (layer -> Dense(1), MSE, SGD,
  `train_on_batch`) and inference (`predict_on_batch`), rnnkit GRU (native C++ loops) vs
  MinGRU / MinLSTM (parallel mode); the layers are timed in interleaved rounds in one
  process, the median of the round medians is reported with the ratio GRU / layer.
- scaling: the same at T = 512 ... 16384 (GRU and MinGRU).
- memory: peak RSS of a fresh process doing MinGRU training steps at T16384 B8 U256
  (process high-water mark, includes the JAX runtime), and its baseline before the model.
- quality: the default `rnnkit train` character model (Embedding(V, 48) -> layer ->
  Dense(V), seq_len 64, batch 32, Adam 3e-3 with clipnorm 1) with GRU(256) and with a
  MinGRU whose width gives the same parameter count, each trained for the same wall time
  on the same text; validation loss (nats/char) of both.
The 1-minute load average is printed with every part: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _load():
    return "load avg %.1f / %.1f / %.1f" % os.getloadavg()


def _model(kind, units, T, D, return_sequences=False):
    import rnnkit
    from rnnkit import layers

    layer = {"GRU": layers.GRU, "MinGRU": layers.MinGRU, "MinLSTM": layers.MinLSTM}[kind]
    model = rnnkit.Sequential([layers.Input((T, D)), layer(units), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _time(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def _bench(kinds, B, T, D, U, rounds=3, reps=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, D)).astype(np.float32)
    y = rng.normal(size=(B, 1)).astype(np.float32)
    models = {k: _model(k, U, T, D) for k in kinds}
    jobs = {}
    for k, m in models.items():
        jobs[(k, "train")] = lambda m=m: float(m.train_on_batch(x, y))
        jobs[(k, "infer")] = lambda m=m: np.asarray(m.predict_on_batch(x))
        for fn in (jobs[(k, "train")], jobs[(k, "infer")]):
            fn()
            fn()  # compile and warm up
    rounds_ms = {key: [] for key in jobs}
    for _ in range(rounds):
        for key, fn in jobs.items():
            rounds_ms[key].append(1e3 * _time(fn, reps))
    return {key: (float(np.median(v)), min(v), max(v)) for key, v in rounds_ms.items()}


def speed():
    print(f"## speed B8 T4096 D256 U256 ({_load()})")
    res = _bench(["GRU", "MinGRU", "MinLSTM"], 8, 4096, 256, 256)
    for what in ("train", "infer"):
        gru = res[("GRU", what)][0]
        for k in ("GRU", "MinGRU", "MinLSTM"):
            med, lo, hi = res[(k, what)]
            print(f"| {k}(256) {what} | {med:.1f} ms [{lo:.1f}-{hi:.1f}] | "
                  f"GRU/{k} x{gru / med:.1f} |")
    print(f"({_load()})")


def scaling():
    print(f"## scaling B8 D256 U256 ({_load()})")
    for T in (512, 1024, 2048, 4096, 8192, 16384):
        res = _bench(["GRU", "MinGRU"], 8, T, 256, 256, rounds=2 if T >= 8192 else 3,
                     reps=1 if T >= 8192 else 3)
        cells = []
        for what in ("train", "infer"):
            g, m = res[("GRU", what)][0], res[("MinGRU", what)][0]
            cells.append(f"{g:.1f} | {m:.1f} | x{g / m:.1f}")
        print(f"| T={T} | " + " | ".join(cells) + " |")
    print(f"({_load()})")


def _memory_child(T):
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import rnnkit  # noqa: F401

    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, T, 256)).astype(np.float32)
    y = rng.normal(size=(8, 1)).astype(np.float32)
    model = _model("MinGRU", 256, T, 256)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):
        model.train_on_batch(x, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"T": T, "start_mib": base / 1024, "before_train_mib": before / 1024,
                      "peak_mib": peak / 1024}))


def memory():
    print(f"## memory: MinGRU(256) training B8 T16384 D256 ({_load()})")
    out = subprocess.run([sys.executable, "-m", "benchmarks.parallel_scan", "--memory-child",
                          "16384"], capture_output=True, text=True, check=True)
    print(out.stdout.strip().splitlines()[-1])


def _char_data(seq_len=64, val_fraction=0.1):
    """The default `rnnkit train` text (standard-library sources), its vocabulary and
    next-character windows, split as the CLI does (last 10% for validation)."""
    from rnnkit.data import default_corpus
    from rnnkit.data.text import CharVocab, next_char_windows

    text = default_corpus().text
    vocab = CharVocab.build(text)
    n_val = int(len(text) * val_fraction)
    train = next_char_windows(vocab.encode(text[:-n_val]), seq_len)
    val = next_char_windows(vocab.encode(text[-n_val:]), seq_len)
    return len(vocab), train, val


def _char_model(kind, vocab, units):
    import rnnkit
    from rnnkit import layers

    layer = {"GRU": layers.GRU, "MinGRU": layers.MinGRU}[kind]
    model = rnnkit.Sequential([rnnkit.Input(shape=(None,), dtype="int32"),
                               layers.Embedding(vocab, 48),
                               layer(units, return_sequences=True), layers.Dense(vocab)])
    model.compile(optimizer=rnnkit.optimizers.Adam(3e-3, global_clipnorm=1.0),
                  loss=rnnkit.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def quality(seconds=150.0):
    import rnnkit

    vocab, (xt, yt), (xv, yv) = _char_data()
    gru_params = _char_model("GRU", vocab, 256).count_params()
    # MinGRU(U) has 2*U*(48+1) + U*V + V + ... : pick the U with the closest count
    best = min(range(64, 2048, 8), key=lambda u: abs(
        _count_mingru(vocab, u) - gru_params))
    print(f"## quality: char model, {seconds:.0f} s of training each ({_load()})")
    for kind, units in (("GRU", 256), ("MinGRU", best)):
        rnnkit.set_random_seed(0)
        model = _char_model(kind, vocab, units)
        rng = np.random.default_rng(0)
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            idx = rng.integers(0, len(xt), 32)
            model.train_on_batch(xt[idx], yt[idx])
            steps += 1
        val = float(model.evaluate(xv, yv, batch_size=256, verbose=0))
        print(f"| {kind}({units}) | {model.count_params():,} params | {steps} steps | "
              f"val loss {val:.3f} |")
    print(f"({_load()})")


def _count_mingru(vocab, units):
    return vocab * 48 + 2 * units * 48 + 2 * units + units * vocab + vocab


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("speed", "scaling", "memory", "quality"))
    ap.add_argument("--quality-seconds", type=float, default=150.0)
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_child:
        return _memory_child(args.memory_child)
    parts = {"speed": speed, "scaling": scaling, "memory": memory,
             "quality": lambda: quality(args.quality_seconds)}
    for name, fn in parts.items():
        if args.only in (None, name):
            fn()


if __name__ == "__main__":
    main()
