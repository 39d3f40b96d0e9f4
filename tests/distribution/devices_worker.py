"""Run by test_devices.py in a fresh process with 4 forced CPU devices; prints one JSON line.

For each model: fit / predict / evaluate once without a distribution (one device) and once
under the distribution, and reports both, so the test compares them.
"""

import json
import os
import re
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

import jax  # noqa: E402
import numpy as np  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit import distribution as D  # noqa: E402
from rnnkit import layers  # noqa: E402
from rnnkit.models.sharded import Runner  # noqa: E402

T, F, N, BATCH = 6, 3, 32, 8
rng = np.random.default_rng(0)
X = rng.normal(size=(N, T, F)).astype("float32")
IDS = rng.integers(0, 16, (N, T))
Y = rng.normal(size=(N, 1)).astype("float32")


def build(kind):
    if kind == "lstm":
        return [rnnkit.Input((T, F)), layers.LSTM(8), layers.Dense(1)]
    if kind == "gru":
        return [rnnkit.Input((T, F)), layers.GRU(8, return_sequences=True), layers.GRU(4),
                layers.Dense(1)]
    if kind == "bidirectional":
        return [rnnkit.Input((T, F)), layers.Bidirectional(layers.LSTM(4)), layers.Dense(1)]
    return [rnnkit.Input((T,)), layers.Embedding(16, 4, name="emb"), layers.SimpleRNN(8),
            layers.Dense(1)]


def run(kind, dist):
    rnnkit.set_random_seed(3)
    D.set_distribution(dist)
    try:
        model = rnnkit.Sequential(build(kind))
        model.compile(optimizer="adam", loss="mse")
        x = IDS if kind in ("embedding", "model_parallel") else X
        hist = model.fit(x, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
        out = {"loss": hist.history["loss"],
               "weights": [w.tolist() for w in model.get_weights()],
               "predict": model.predict(x, batch_size=BATCH, verbose=0).tolist(),
               "evaluate": float(model.evaluate(x, Y, batch_size=BATCH, verbose=0)),
               "predict_on_batch": model.predict_on_batch(x[:BATCH]).tolist(),
               "train_on_batch": float(model.train_on_batch(x[:BATCH], Y[:BATCH]))}
        if dist is not None:
            out["shardings"] = [(v.path, str(v._value.sharding.spec),
                                 len(v._value.sharding.device_set))
                                for v in model.variables]
            step, t_idx, n_idx = model._steps[("train", dist)]
            hlo = step.lower(model._current(t_idx), model._current(n_idx), model._opt_state,
                             *Runner(dist).feed((x[:BATCH], Y[:BATCH], None)))
            out["collectives"] = sorted(set(re.findall(
                r"all-gather|all-reduce|all-to-all", hlo.compile().as_text())))
        return out
    finally:
        D.set_distribution(None)


def error_of(fn):
    try:
        fn()
    except ValueError as err:
        return str(err)
    return None


def bad_batch():
    D.set_distribution(D.DataParallel())
    try:
        model = rnnkit.Sequential(build("lstm"))
        model.compile(optimizer="adam", loss="mse")
        return {"batch_size": error_of(lambda: model.fit(X, Y, batch_size=6, verbose=0)),
                "last_batch": error_of(lambda: model.fit(X[:10], Y[:10], batch_size=4,
                                                         verbose=0))}
    finally:
        D.set_distribution(None)


def main():
    results = {"devices": D.list_devices(), "count": jax.device_count()}
    for kind in ("lstm", "gru", "bidirectional", "embedding"):
        results[kind] = {"one": run(kind, None), "dist": run(kind, D.DataParallel())}
    mesh = D.DeviceMesh((2, 2), ["batch", "model"])
    layout_map = D.LayoutMap(mesh)
    layout_map["emb/embeddings"] = (None, "model")
    results["model_parallel"] = {"one": run("model_parallel", None),
                                 "dist": run("model_parallel",
                                             D.ModelParallel(layout_map=layout_map))}
    results["errors"] = bad_batch()
    with D.DataParallel().scope():
        dense = layers.Dense(2)
        dense.build((None, 3))
    sharding = dense.kernel._value.sharding
    results["scope"] = [str(sharding.spec), len(sharding.device_set)]
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
