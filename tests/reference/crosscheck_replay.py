"""Replays a Keras-recorded case (golden format) on rnnkit and checks every number.

Shared by `tools.keras_crosscheck` (which records the case from live Keras first) and the
regression tests over `tests/fixtures/keras_crosscheck/*.npz` (which need no Keras). The
case format is the one of tests/fixtures/keras_golden/README.md, plus:

* `weight_shapes`: Keras' `get_weights()` shapes; `count_params`: Keras' count.
* calls may name their own mask (`"mask_1"`) and input keys (`"x_2"`).
* `reg_losses_after_call`: `layer.losses` after the last call (activity regularizers).
* `dense_embedding_gradients` (train): recorded where Keras-on-JAX and Keras-on-TensorFlow
  differ (an Embedding under Adam/AdamW/RMSprop/Adagrad); rnnkit is then run with dense
  embedding gradients like the JAX backend.

`check_case(cfg, arrays)` raises `AssertionError` naming the first difference.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import golden

ATOL = 1e-5
TRAIN_RTOL = 1e-4
CROSSCHECK_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "keras_crosscheck"


def weights_of(arrays, prefix="weights_"):
    n = sum(1 for k in arrays if k.startswith(prefix) and k[len(prefix):].isdigit())
    return [arrays[f"{prefix}{i}"] for i in range(n)]


def call_kwargs(call, arrays):
    kwargs = {}
    if call.get("initial_state") is not None:
        kwargs["initial_state"] = golden.resolve_structure(call["initial_state"], arrays)
    if call.get("mask") is not None:
        kwargs["mask"] = arrays[call["mask"]]
    if call.get("training") is not None:
        kwargs["training"] = call["training"]
    return kwargs


def _check_weights(obj, cfg, arrays):
    shapes = [list(np.shape(w)) for w in obj.get_weights()]
    assert shapes == cfg["weight_shapes"], \
        f"get_weights() shapes {shapes} != Keras {cfg['weight_shapes']}"
    assert int(obj.count_params()) == cfg["count_params"], \
        f"count_params() {obj.count_params()} != Keras {cfg['count_params']}"
    obj.set_weights(weights_of(arrays))


def check_layer(cfg, arrays, lib):
    layer = golden.build_object(cfg["spec"], lib)
    layer.build(tuple(cfg["build_input_shape"]))
    _check_weights(layer, cfg, arrays)
    if cfg.get("regularization_losses"):
        got = [float(v) for v in layer.losses]
        np.testing.assert_allclose(got, arrays["reg_losses"].astype(np.float64), atol=ATOL,
                                   rtol=1e-5, err_msg="layer.losses after set_weights")
    for i, call in enumerate(cfg["calls"]):
        if call["reset_states_before"]:
            layer.reset_states()
        out = layer(arrays[call["inputs"]], **call_kwargs(call, arrays))
        expected = golden.resolve_structure(call["outputs"], arrays)
        golden.assert_structure_close(out, expected, atol=ATOL, path=f"calls[{i}].outputs")
    if cfg.get("regularization_losses"):
        got = [float(v) for v in layer.losses]
        np.testing.assert_allclose(got, arrays["reg_losses_after_call"].astype(np.float64),
                                   atol=ATOL, rtol=1e-5, err_msg="layer.losses after the call")


def check_model(cfg, arrays, lib):
    model = golden.build_model(cfg["model"], lib)
    _check_weights(model, cfg, arrays)
    y = model.predict(arrays[cfg["call"]["inputs"]], verbose=0)
    golden.assert_structure_close(y, arrays["y_0"], atol=ATOL, path="predict")


def check_train(cfg, arrays, lib):
    model = golden.build_model(cfg["model"], lib)
    _check_weights(model, cfg, arrays)
    if cfg.get("dense_embedding_gradients"):
        # recorded on Keras-on-JAX, whose embedding gradients are dense; rnnkit follows
        # Keras-on-TensorFlow (per-occurrence squares, rnnkit/core/sparse.py) by default
        for layer in model.layers:
            if hasattr(layer, "embeddings"):
                layer.embeddings.sparse_gradient = False
    model.compile(optimizer=golden.build_object(cfg["compile"]["optimizer"], lib),
                  loss=cfg["compile"]["loss"])
    history = model.fit(arrays["x"], arrays["target"], **cfg["fit"])
    loss = np.asarray(history.history["loss"], dtype=np.float64)
    np.testing.assert_allclose(loss, arrays["loss_history"].astype(np.float64),
                               rtol=TRAIN_RTOL, atol=1e-6, err_msg="loss_history")
    golden.assert_structure_close(model.get_weights(), weights_of(arrays, "final_weights_"),
                                  atol=ATOL, rtol=TRAIN_RTOL, path="final_weights")


def check_case(cfg, arrays, lib=None):
    """Build the case on `lib` (default rnnkit) and compare with the recorded Keras arrays."""
    if lib is None:
        import rnnkit as lib  # noqa: PLC0415 - the NumPy-only users never get here
    {"layer": check_layer, "model": check_model, "train": check_train}[cfg["kind"]](
        cfg, arrays, lib)


def load(path):
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads(str(arrays.pop("config"))), arrays


def fixture_paths():
    return sorted(CROSSCHECK_DIR.glob("*.npz"))
